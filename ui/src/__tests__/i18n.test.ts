/**
 * Every English text has a Russian one (and no stray Russian keys), and every
 * text key used in the source exists.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import en from '../i18n/en';
import ru from '../i18n/ru';

const PLURAL = /_(zero|one|two|few|many|other)$/;

function flatten(o: unknown, prefix = ''): string[] {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return [prefix];
  return Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
}

const base = (keys: string[]) => new Set(keys.map((k) => k.replace(PLURAL, '')));

describe('translations', () => {
  it('Russian has every key English has', () => {
    const ruKeys = base(flatten(ru));
    const missing = [...base(flatten(en))].filter((k) => !ruKeys.has(k));
    expect(missing).toEqual([]);
  });

  it('Russian has no key English lacks', () => {
    const enKeys = base(flatten(en));
    const extra = [...base(flatten(ru))].filter((k) => !enKeys.has(k));
    expect(extra).toEqual([]);
  });

  it('no Russian text is empty', () => {
    const get = (o: unknown, k: string) => k.split('.').reduce<unknown>((a, p) => (a as Record<string, unknown>)?.[p], o);
    const empty = flatten(ru).filter((k) => {
      const v = get(ru, k);
      return typeof v === 'string' ? v.trim() === '' : !Array.isArray(v);
    });
    expect(empty).toEqual([]);
  });

  it('every key used in the source exists in English', () => {
    const dir = path.resolve(__dirname, '..');
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of fs.readdirSync(d)) {
        const p = path.join(d, f);
        if (fs.statSync(p).isDirectory()) walk(p);
        else if (/\.tsx?$/.test(f) && !p.includes(`${path.sep}i18n${path.sep}`) && !f.includes('.test.')) files.push(p);
      }
    };
    walk(dir);
    const enKeys = base(flatten(en));
    const missing: string[] = [];
    for (const f of files) {
      for (const m of fs.readFileSync(f, 'utf8').matchAll(/\bt\(\s*'([a-zA-Z0-9_.]+)'/g)) {
        if (!enKeys.has(m[1]) && ![...enKeys].some((k) => k.startsWith(`${m[1]}.`))) missing.push(`${path.basename(f)}: ${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
