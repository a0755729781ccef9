import { describe, expect, it } from 'vitest';
import i18n from '../i18n';
import { notifyText } from '../notify';
import type { ServerEvent } from '../api/types';

const ev = (fields: Record<string, unknown>, message = 'engine words'): ServerEvent => ({
  time: '2026-11-24T10:00:00Z',
  level: 'WARN',
  kind: 'notification',
  target: 'mailroom',
  message,
  fields,
});

describe('server notifications', () => {
  it('say what happened in the chosen language, from the fields', async () => {
    await i18n.changeLanguage('en');
    const stopped = notifyText(ev({ notify: 'listener_stopped', listener: 'smtp', address: '0.0.0.0:25' }));
    expect(stopped.title).toBe('Service stopped');
    expect(stopped.message).toBe('Incoming mail (SMTP, port 25) on 0.0.0.0:25 was stopped.');
    const bounce = notifyText(ev({ notify: 'bounce', sender: 'a@example.com', rcpt: 'b@example.net', message_id: 'x1' }));
    expect(bounce.message).toContain('a@example.com');
    expect(bounce.message).toContain('b@example.net');
    expect(notifyText(ev({ notify: 'cert_expiring', days: -1 })).title).toBe('Certificate expired');
    await i18n.changeLanguage('ru');
    expect(notifyText(ev({ notify: 'disk_low', free_mb: 300 })).message).toContain('300 МБ');
    await i18n.changeLanguage('en');
  });

  it('give one message per subject, and the server words for unknown kinds', () => {
    const a = notifyText(ev({ notify: 'listener_stopped', listener: 'imap' }));
    const b = notifyText(ev({ notify: 'listener_stopped', listener: 'imap' }));
    expect(a.id).toBe(b.id);
    expect(notifyText(ev({ notify: 'something_new' }, 'a new thing happened')).message).toBe('a new thing happened');
  });
});
