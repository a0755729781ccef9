/**
 * Logging in: a wrong password is said plainly; a right one opens the app;
 * a 401 later brings the login page back with an explanation.
 */
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Root } from '../App';
import { getToken } from '../api/auth';
import { mockApi, renderPage, status } from '../test/helpers';

describe('Login', () => {
  it('shows "wrong password"', async () => {
    mockApi({ 'POST /login': { status: 401, body: { error: 'wrong password (set it with "mailroomd admin-password")' } } });
    renderPage(<Root />);
    fireEvent.change(screen.getByLabelText(/Administrator password/), { target: { value: 'nope' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText('Wrong password. Please try again.')).toBeInTheDocument();
    expect(getToken()).toBeNull();
  });

  it('stores the token and shows the app after a right password', async () => {
    const fetch = mockApi({
      'POST /login': ({ body }) => ((body as { password: string }).password === 'secret' ? { body: { token: 'T1' } } : { status: 401 }),
      'GET /status': { body: status() },
      'GET /stats/summary': { body: { today_since: '', today: {}, last_hour: {}, today_by_domain: {}, today_by_mailbox: {} } },
      'GET /stats': { body: { granularity: 'hour', from: '', to: '', series: [] } },
    });
    renderPage(<Root />);
    fireEvent.change(screen.getByLabelText(/Administrator password/), { target: { value: 'secret' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('heading', { name: 'Dashboard' })).toBeInTheDocument();
    expect(getToken()).toBe('T1');
    await waitFor(() => {
      const statusCall = fetch.mock.calls.find(([u]) => String(u).endsWith('/status'));
      expect(((statusCall?.[1] as RequestInit).headers as Record<string, string>).Authorization).toBe('Bearer T1');
    });
  });

  it('goes back to the login page with a plain message on a 401', async () => {
    sessionStorage.setItem('mailroom.token', 'old');
    mockApi({ 'GET /status': { status: 401, body: { error: 'missing or invalid token' } } });
    renderPage(<Root />);
    expect(await screen.findByText('Your session has ended. Please sign in again.')).toBeInTheDocument();
    expect(getToken()).toBeNull();
  });
});
