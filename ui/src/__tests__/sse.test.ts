/**
 * The live-log stream parser: events split across chunks, several events in
 * one chunk, CRLF line endings split between chunks, comments, multi-line data.
 */
import { describe, expect, it } from 'vitest';
import { SseParser, readEvents, toServerEvent } from '../api/sse';
import { vi } from 'vitest';

const ev = (kind: string, message: string) =>
  `event: ${kind}\ndata: ${JSON.stringify({ time: '2026-01-01T00:00:00Z', level: 'INFO', kind, target: 't', message, fields: {} })}\n\n`;

describe('SseParser', () => {
  it('handles an event split across many chunks', () => {
    const p = new SseParser();
    const text = ev('log', 'hello world');
    const out = [];
    for (let i = 0; i < text.length; i += 3) out.push(...p.push(text.slice(i, i + 3)));
    expect(out).toHaveLength(1);
    expect(out[0].event).toBe('log');
    expect(toServerEvent(out[0])?.message).toBe('hello world');
  });

  it('returns several events from one chunk, in order', () => {
    const p = new SseParser();
    const out = p.push(ev('log', 'one') + ev('status', 'two') + ev('notification', 'three'));
    expect(out.map((m) => m.event)).toEqual(['log', 'status', 'notification']);
    expect(out.map((m) => toServerEvent(m)?.message)).toEqual(['one', 'two', 'three']);
  });

  it('keeps an unfinished event until its blank line arrives', () => {
    const p = new SseParser();
    expect(p.push('event: log\ndata: {"message":"a"}\n')).toEqual([]);
    expect(p.push('\n')).toHaveLength(1);
  });

  it('handles CRLF split between chunks, comments and multi-line data', () => {
    const p = new SseParser();
    const out = [
      ...p.push(': keep-alive\r'),
      ...p.push('\n\r\nevent: log\r\ndata: line1\r'),
      ...p.push('\ndata: line2\r\n\r'),
      ...p.push('\n'),
    ];
    expect(out).toEqual([{ event: 'log', data: 'line1\nline2', id: undefined }]);
  });

  it('readEvents reads a fetch stream chunk by chunk and sends the token', async () => {
    sessionStorage.setItem('mailroom.token', 'tok');
    const chunks = [ev('log', 'first').slice(0, 20), ev('log', 'first').slice(20) + ev('status', 'second').slice(0, 30), ev('status', 'second').slice(30)];
    const enc = new TextEncoder();
    const fetchMock = vi.fn(async () =>
      new Response(
        new ReadableStream({
          start(c) {
            for (const ch of chunks) c.enqueue(enc.encode(ch));
            c.close();
          },
        }),
        { status: 200 },
      ),
    );
    vi.stubGlobal('fetch', fetchMock);
    const got: string[] = [];
    await readEvents((e) => got.push(`${e.kind}:${e.message}`), new AbortController().signal);
    expect(got).toEqual(['log:first', 'status:second']);
    const init = (fetchMock.mock.calls[0] as unknown[])[1] as RequestInit;
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok');
  });
});
