/**
 * Live log helpers: live events get the same protocol the engine gives its
 * log files, their message id is picked up, and filters mean what the API's do.
 * Clicking a message id opens its trace.
 */
import { fireEvent, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { LiveLog, eventProtocol, fromEvent, matches } from '../pages/LiveLog';
import { mockApi, renderPage } from '../test/helpers';

const ev = (target: string, fields: Record<string, unknown> = {}, level = 'INFO') => ({
  time: '2026-01-01T00:00:00Z',
  level,
  kind: 'log',
  target,
  message: 'm',
  fields,
});

describe('Live log', () => {
  it('maps targets to protocols like the engine', () => {
    expect(eventProtocol(ev('mailroom_smtp::server'))).toBe('smtp');
    expect(eventProtocol(ev('mailroom_engine::backend::smtp'))).toBe('smtp');
    expect(eventProtocol(ev('mailroom_imap::session::auth'))).toBe('imap');
    expect(eventProtocol(ev('mailroom_outbound::deliver'))).toBe('delivery');
    expect(eventProtocol(ev('mailroom_engine::delivery'))).toBe('delivery');
    expect(eventProtocol(ev('mailroom_engine::api::auth'))).toBe('api');
    expect(eventProtocol(ev('mailroom_smtpx'))).toBe('engine');
  });

  it('filters by minimum level, protocol and text', () => {
    const row = fromEvent(ev('mailroom_engine::delivery', { message_id: 'ID1', rcpt: 'bob@remote.test' }, 'WARN'));
    expect(row.messageId).toBe('ID1');
    expect(matches(row, 'WARN', null, '')).toBe(true);
    expect(matches(row, 'ERROR', null, '')).toBe(false);
    expect(matches(row, 'INFO', 'delivery', 'BOB@remote')).toBe(true);
    expect(matches(row, null, 'smtp', '')).toBe(false);
  });

  it('opens the trace of a message from its id', async () => {
    mockApi({
      'GET /logs': {
        body: [{ time: '2026-01-01T00:00:01Z', level: 'INFO', protocol: 'delivery', message: 'delivery deferred', message_id: 'ABC', fields: {} }],
      },
      'GET /messages/ABC/trace': {
        body: {
          message_id: 'ABC',
          status: 'queued',
          summary: 'Waiting: the DNS lookup failed.',
          steps: [
            { time: '2026-01-01T00:00:00Z', level: 'INFO', protocol: 'smtp', event: 'message accepted', summary: 'Received from alice@example.test', fields: {} },
            { time: '2026-01-01T00:00:01Z', level: 'WARN', protocol: 'delivery', event: 'delivery deferred', summary: 'Delivery to bob failed; will retry', fields: {} },
          ],
        },
      },
    });
    renderPage(<LiveLog />);
    fireEvent.click(await screen.findByRole('button', { name: 'Show what happened to message ABC' }));
    expect(await screen.findByText('Waiting: the DNS lookup failed.')).toBeInTheDocument();
    expect(screen.getByTestId('trace-status')).toHaveTextContent('Waiting in the queue');
    expect(screen.getAllByTestId('trace-step')).toHaveLength(2);
    expect(screen.getByTestId('log-search')).toBeInTheDocument();
  });
});
