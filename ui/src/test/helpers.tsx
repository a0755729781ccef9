/**
 * Helpers for component tests: render inside the app's providers and a
 * memory router, and a fake `fetch` that answers like the admin API.
 */
import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { MemoryRouter } from 'react-router';
import { vi } from 'vitest';
import { Providers } from '../App';

export function renderPage(ui: ReactElement, route = '/') {
  return render(
    <Providers>
      <MemoryRouter initialEntries={[route]}>{ui}</MemoryRouter>
    </Providers>,
  );
}

export interface Reply {
  status?: number;
  body?: unknown;
}
export type Handler = (req: { method: string; path: string; body: unknown; auth: string | null }) => Reply | undefined;

/**
 * Stubs global fetch. `routes` maps "METHOD /path" (path without /api/v1 and
 * without the query) to a reply or a function returning one. Unknown routes
 * answer 404; the events stream stays open and silent.
 */
export function mockApi(routes: Record<string, Reply | Handler>) {
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://localhost');
    const method = (init?.method ?? 'GET').toUpperCase();
    const path = url.pathname.replace(/^\/api\/v1/, '');
    if (path === '/events') {
      const stream = new ReadableStream({ start() {} });
      return new Response(stream, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
    }
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    const route = routes[`${method} ${decodeURIComponent(path)}`];
    const auth = new Headers(init?.headers).get('Authorization');
    const reply = typeof route === 'function' ? route({ method, path, body, auth }) : route;
    if (!reply) return new Response(JSON.stringify({ error: 'not found' }), { status: 404 });
    const status = reply.status ?? 200;
    return new Response(status === 204 ? null : JSON.stringify(reply.body ?? {}), {
      status,
      headers: { 'Content-Type': 'application/json' },
    });
  });
  vi.stubGlobal('fetch', fn);
  return fn;
}

/** Calls made to the fake API, as "METHOD /path". */
export function calls(fn: ReturnType<typeof mockApi>): string[] {
  return fn.mock.calls.map(([input, init]) => {
    const url = new URL(String(input), 'http://localhost');
    return `${((init as RequestInit | undefined)?.method ?? 'GET').toUpperCase()} ${decodeURIComponent(url.pathname.replace(/^\/api\/v1/, ''))}`;
  });
}

export const listener = (name: string, running: boolean, can_stop = true) => ({
  name,
  label: name.toUpperCase(),
  address: `127.0.0.1:${name.length}25`,
  running,
  can_stop,
});

export function status(over: Record<string, unknown> = {}) {
  return {
    version: '0.1.0',
    uptime_secs: 10,
    started_at: '2026-01-01T00:00:00Z',
    hostname: 'mail.example.com',
    listeners: [listener('smtp', true), listener('imaps', false), listener('admin', true, false)],
    counts: { domains: 1, accounts: 2, queue: 3 },
    queue_paused: false,
    disk_free_bytes: 5 * 1024 ** 3,
    certificate_expires_at: '2027-01-01T00:00:00Z',
    restart_needed: [],
    warnings: [],
    ...over,
  };
}
