/**
 * Where the admin token lives: sessionStorage, so it is gone when the tab closes.
 *
 * A token can also arrive in the address as `#token=...` (the engine prints such
 * a link for the local admin); `takeTokenFromUrl` stores it and removes it from
 * the address bar so it is not left in the history or in screenshots.
 */

const KEY = 'mailroom.token';

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}

/** The key in a `#token=...` address, if there is a well-formed one. */
export function tokenInUrl(loc: Location = window.location): string | null {
  const m = /^#token=([^&]+)/.exec(loc.hash);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null; // a damaged link: ignore it
  }
}

/** Reads `#token=...` (also `#/path?token=` style fragments are left alone). */
export function takeTokenFromUrl(loc: Location = window.location, hist: History = window.history): boolean {
  const token = tokenInUrl(loc);
  if (token === null) return false;
  setToken(token);
  hist.replaceState(null, '', loc.pathname + loc.search + '#/');
  return true;
}
