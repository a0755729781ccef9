/**
 * On first run (no domain yet) the setup wizard opens by itself; it does not
 * when a domain exists, and leaving it goes to the dashboard.
 */
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Root } from '../App';
import { Wizard } from '../pages/Wizard';
import { mockApi, renderPage, status } from '../test/helpers';

const common = {
  'GET /stats/summary': { body: { today_since: '', today: {}, last_hour: {}, today_by_domain: {}, today_by_mailbox: {} } },
  'GET /stats': { body: { granularity: 'hour', from: '', to: '', series: [] } },
  'GET /settings': { body: [{ key: 'hostname', value: 'vm', default: '', help: '', applies: 'restart' }] },
};

describe('Setup wizard', () => {
  it('appears when there are no domains', async () => {
    sessionStorage.setItem('mailroom.token', 'T');
    mockApi({ ...common, 'GET /status': { body: status({ counts: { domains: 0, accounts: 0, queue: 0 } }) } });
    renderPage(<Root />);
    expect(await screen.findByRole('heading', { name: 'Setup wizard' })).toBeInTheDocument();
    expect(await screen.findByDisplayValue('vm')).toBeInTheDocument();
    fireEvent.click(screen.getByTestId('wizard-leave'));
    expect(await screen.findByRole('heading', { name: 'Dashboard' })).toBeInTheDocument();
  });

  it('does not appear when a domain exists', async () => {
    sessionStorage.setItem('mailroom.token', 'T');
    mockApi({ ...common, 'GET /status': { body: status() } });
    renderPage(<Root />);
    expect(await screen.findByRole('heading', { name: 'Dashboard' })).toBeInTheDocument();
    await new Promise((r) => setTimeout(r, 50));
    expect(screen.queryByRole('heading', { name: 'Setup wizard' })).toBeNull();
  });

  it('sets the admin password, checking both entries, and keeps a working key', async () => {
    sessionStorage.setItem('mailroom.token', 'LOCAL');
    localStorage.setItem('mailroom.wizard', JSON.stringify({ step: 2, domain: 'example.com' }));
    let stored: string | null = null;
    mockApi({
      ...common,
      'GET /status': { body: status({ admin_password_set: false }) },
      'PUT /admin-password': ({ body }) => {
        stored = (body as { password: string }).password;
        return { body: { token: 'SESSION' } };
      },
    });
    renderPage(<Wizard />);
    fireEvent.change(await screen.findByTestId('wizard-password'), { target: { value: 'short' } });
    fireEvent.change(screen.getByTestId('wizard-password-again'), { target: { value: 'short' } });
    fireEvent.click(screen.getByTestId('wizard-password-save'));
    expect(await screen.findByText('Use at least 8 characters.')).toBeInTheDocument();
    fireEvent.change(screen.getByTestId('wizard-password'), { target: { value: 'a-long-password' } });
    fireEvent.change(screen.getByTestId('wizard-password-again'), { target: { value: 'a-long-passw0rd' } });
    fireEvent.click(screen.getByTestId('wizard-password-save'));
    expect(await screen.findByText('The two passwords are not the same.')).toBeInTheDocument();
    expect(stored).toBeNull();
    fireEvent.change(screen.getByTestId('wizard-password-again'), { target: { value: 'a-long-password' } });
    fireEvent.click(screen.getByTestId('wizard-password-save'));
    await waitFor(() => expect(stored).toBe('a-long-password'));
    // The local key still answers, so the page keeps it (it does not expire like a session).
    await waitFor(() => expect(JSON.parse(localStorage.getItem('mailroom.wizard') ?? '{}').step).toBe(3));
    expect(sessionStorage.getItem('mailroom.token')).toBe('LOCAL');
    localStorage.removeItem('mailroom.wizard');
  });

  it('takes the new session after a password change when the old one ended', async () => {
    sessionStorage.setItem('mailroom.token', 'OLD-SESSION');
    localStorage.setItem('mailroom.wizard', JSON.stringify({ step: 2, domain: 'example.com' }));
    mockApi({
      ...common,
      'GET /status': ({ auth }) => (auth === 'Bearer OLD-SESSION' ? { status: 401, body: { error: 'session ended' } } : { body: status() }),
      'PUT /admin-password': { body: { token: 'NEW-SESSION' } },
    });
    renderPage(<Wizard />);
    fireEvent.change(await screen.findByTestId('wizard-password'), { target: { value: 'a-long-password' } });
    fireEvent.change(screen.getByTestId('wizard-password-again'), { target: { value: 'a-long-password' } });
    fireEvent.click(screen.getByTestId('wizard-password-save'));
    await waitFor(() => expect(sessionStorage.getItem('mailroom.token')).toBe('NEW-SESSION'));
    localStorage.removeItem('mailroom.wizard');
  });

  it('sends a test message and shows where it went', async () => {
    sessionStorage.setItem('mailroom.token', 'T');
    localStorage.setItem('mailroom.wizard', JSON.stringify({ step: 6, domain: 'example.com' }));
    let to: string | null = null;
    mockApi({
      ...common,
      'GET /status': { body: status() },
      'GET /accounts': { body: [{ address: 'postmaster@example.com' }, { address: 'alice@example.com' }] },
      'POST /test-message': ({ body }) => {
        to = (body as { to: string }).to;
        return { status: 202, body: { message_id: 'm1', from: 'postmaster@example.com', local: true, queued: false } };
      },
      'GET /messages/m1/trace': {
        body: { message_id: 'm1', status: 'delivered', summary: 'Delivered to alice@example.com', received: null, steps: [], queue: null },
      },
    });
    renderPage(<Wizard />);
    await waitFor(() => expect(screen.getByTestId('wizard-test-to')).toHaveValue('alice@example.com'));
    fireEvent.click(screen.getByTestId('wizard-test-send'));
    expect(await screen.findByTestId('wizard-test-result')).toHaveTextContent('Delivered to alice@example.com');
    expect(to).toBe('alice@example.com');
    localStorage.removeItem('mailroom.wizard');
  });
});
