/**
 * The words of a server notification (bounce, ban, certificate, disk,
 * stopped service) in the interface's language, built from the event's
 * fields rather than the server's English log line. Unknown kinds fall back
 * to the server's own message.
 */
import i18n from 'i18next';
import type { ServerEvent } from './api/types';

export interface NotifyText {
  id: string;
  title: string;
  message: string;
  color: string;
}

export function notifyText(e: ServerEvent): NotifyText {
  const f = e.fields;
  const kind = String(f.notify ?? '');
  const str = (k: string) => (f[k] === undefined || f[k] === null ? '' : String(f[k]));
  const color = e.level === 'ERROR' ? 'red' : e.level === 'WARN' ? 'yellow' : 'blue';
  const t = i18n.t.bind(i18n);
  switch (kind) {
    case 'bounce':
    case 'ban':
    case 'disk_low':
      return {
        id: `${kind}-${str('message_id') || str('peer') || ''}`,
        title: t(`notify.${kind}.title`),
        message: t(`notify.${kind}.body`, { sender: str('sender'), rcpt: str('rcpt'), peer: str('peer'), free_mb: str('free_mb') }),
        color,
      };
    case 'cert_expiring': {
      const days = Number(f.days ?? 0);
      const key = days < 0 ? 'cert_expired' : 'cert_expiring';
      return { id: key, title: t(`notify.${key}.title`), message: t(`notify.${key}.body`, { days }), color };
    }
    case 'listener_stopped': {
      const name = str('listener');
      return {
        id: `listener-${name}`,
        title: t('notify.listener_stopped.title'),
        message: t('notify.listener_stopped.body', { listener: t(`listeners.${name}`, { defaultValue: name }), address: str('address') }),
        color,
      };
    }
    default:
      return { id: `${kind}-${e.time}`, title: '', message: e.message, color };
  }
}
