/**
 * The one way the UI talks to the engine: `api(method, path, body)`.
 *
 * Adds the Bearer token, parses JSON, and turns every error answer
 * (`{"error": "plain sentence"}`) into an `ApiError` carrying that sentence.
 * A 401 clears the token and tells the app (via `onUnauthorized`) to show the
 * login page.
 */
import { clearToken, getToken } from './auth';

export const API_BASE = '/api/v1';

export class ApiError extends Error {
  status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

type Listener = () => void;
let unauthorizedListeners: Listener[] = [];

/** Registers a callback run when the engine answers 401; returns an unsubscribe function. */
export function onUnauthorized(fn: Listener): () => void {
  unauthorizedListeners.push(fn);
  return () => {
    unauthorizedListeners = unauthorizedListeners.filter((f) => f !== fn);
  };
}

function fireUnauthorized() {
  clearToken();
  for (const fn of unauthorizedListeners) fn();
}

/** Builds a query string from the non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  opts: { auth?: boolean } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  const token = getToken();
  if (opts.auth !== false && token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(API_BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, '');
  }
  if (res.status === 401 && opts.auth !== false) {
    fireUnauthorized();
  }
  if (!res.ok) {
    let message = '';
    try {
      const data = await res.json();
      if (data && typeof data.error === 'string') message = data.error;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, message || res.statusText || `HTTP ${res.status}`);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Encodes one path segment (addresses contain `@`, which is fine, but be safe). */
export const seg = (s: string | number) => encodeURIComponent(String(s));
