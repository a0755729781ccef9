/**
 * A `#token=...` link stores the token and removes it from the address bar.
 */
import { describe, expect, it } from 'vitest';
import { getToken, setToken, takeTokenFromUrl } from '../api/auth';

describe('token from the URL fragment', () => {
  it('is stored and removed from the address', () => {
    window.history.replaceState(null, '', '/ui/#token=abc123');
    expect(takeTokenFromUrl()).toBe(true);
    expect(getToken()).toBe('abc123');
    expect(window.location.hash).toBe('#/');
    expect(window.location.href).not.toContain('abc123');
  });

  it('leaves other fragments alone', () => {
    window.history.replaceState(null, '', '/#/queue');
    expect(takeTokenFromUrl()).toBe(false);
    expect(window.location.hash).toBe('#/queue');
  });

  it('ignores a damaged link instead of failing', () => {
    setToken('kept');
    window.history.replaceState(null, '', '/#token=%E0%A4%A');
    expect(() => takeTokenFromUrl()).not.toThrow();
    expect(getToken()).toBe('kept');
  });
});
