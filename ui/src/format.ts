/**
 * Dates, numbers and sizes written the way the chosen language writes them.
 */
import i18n from './i18n';

const loc = () => (i18n.language === 'ru' ? 'ru-RU' : 'en-GB');

export function fmtNumber(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return new Intl.NumberFormat(loc()).format(n);
}

/** RFC 3339 string or Unix seconds → local date and time. */
export function fmtDateTime(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === '') return '—';
  const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return new Intl.DateTimeFormat(loc(), { dateStyle: 'medium', timeStyle: 'medium' }).format(d);
}

export function fmtDate(v: string | null | undefined): string {
  if (!v) return '—';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return new Intl.DateTimeFormat(loc(), { dateStyle: 'long' }).format(d);
}

export function fmtTime(v: string): string {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return v;
  return new Intl.DateTimeFormat(loc(), { hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(d);
}

export function fmtHour(v: string): string {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return v;
  return new Intl.DateTimeFormat(loc(), { hour: '2-digit', minute: '2-digit' }).format(d);
}

/** Bytes in the largest unit that keeps the number readable (KB, MB, GB). */
export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = i18n.t('units.bytes', { returnObjects: true }) as unknown as string[];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = i === 0 ? 0 : v < 10 ? 1 : 0;
  return `${new Intl.NumberFormat(loc(), { maximumFractionDigits: digits }).format(v)} ${units[i]}`;
}

/** How long from now (positive: in the future), e.g. "in 5 minutes". */
export function fmtRelative(unixSecs: number): string {
  const diff = unixSecs - Date.now() / 1000;
  const rtf = new Intl.RelativeTimeFormat(loc(), { numeric: 'auto' });
  const abs = Math.abs(diff);
  if (abs < 60) return rtf.format(Math.round(diff), 'second');
  if (abs < 3600) return rtf.format(Math.round(diff / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(diff / 3600), 'hour');
  return rtf.format(Math.round(diff / 86400), 'day');
}
