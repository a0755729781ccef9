/**
 * Reading the live event stream (GET /api/v1/events, Server-Sent Events).
 *
 * EventSource cannot send an Authorization header, so the stream is read with
 * fetch() and parsed here. `SseParser` is fed text chunks as they arrive (an
 * event may be split across chunks, a chunk may hold several events) and
 * returns each complete event once its blank line has been seen.
 */
import { API_BASE } from './client';
import { getToken } from './auth';
import type { ServerEvent } from './types';

export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;

  /** Feeds a chunk; returns the events completed by it. */
  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A lone "\r" at the end may be the first half of "\r\n": wait for more.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      this.line(line, out);
    }
    return out;
  }

  private line(line: string, out: SseMessage[]) {
    if (line === '') {
      if (this.data.length > 0) {
        out.push({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
      }
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }
}

/** Turns a parsed SSE message into a ServerEvent, or null if its data is not JSON. */
export function toServerEvent(msg: SseMessage): ServerEvent | null {
  try {
    const d = JSON.parse(msg.data);
    return {
      time: String(d.time ?? new Date().toISOString()),
      level: String(d.level ?? 'INFO').toUpperCase(),
      kind: String(d.kind ?? msg.event),
      target: String(d.target ?? ''),
      message: String(d.message ?? ''),
      fields: (d.fields && typeof d.fields === 'object' ? d.fields : {}) as Record<string, unknown>,
    };
  } catch {
    return null;
  }
}

/**
 * Opens the stream and calls `onEvent` for each event until `signal` aborts.
 * Resolves when the stream ends; rejects on a network error or a non-2xx answer
 * (the caller reconnects).
 */
export async function readEvents(
  onEvent: (e: ServerEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const token = getToken();
  const res = await fetch(`${API_BASE}/events`, {
    headers: { Accept: 'text/event-stream', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    signal,
  });
  if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    for (const msg of parser.push(decoder.decode(value, { stream: true }))) {
      const e = toServerEvent(msg);
      if (e) onEvent(e);
    }
  }
}
