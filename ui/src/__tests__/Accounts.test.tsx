/**
 * Mailboxes: storage use against the limit, turning a mailbox off, and adding one.
 */
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Accounts } from '../pages/Accounts';
import { calls, mockApi, renderPage } from '../test/helpers';

const MB = 1024 * 1024;

describe('Accounts', () => {
  it('shows storage use, turns a mailbox off and adds one', async () => {
    let created: unknown;
    const fetch = mockApi({
      'GET /accounts': {
        body: [
          { address: 'alice@example.com', quota_bytes: 100 * MB, used_bytes: 25 * MB, enabled: true, has_password: true },
          { address: 'bob@example.com', quota_bytes: 0, used_bytes: 2048, enabled: true, has_password: false },
        ],
      },
      'PATCH /accounts/alice@example.com': { body: {} },
      'POST /accounts': ({ body }) => {
        created = body;
        return { status: 201, body: { address: 'carol@example.com', quota_bytes: 0, used_bytes: 0, enabled: true, has_password: true } };
      },
    });
    renderPage(<Accounts />);
    expect(await screen.findByText('25 MB of 100 MB')).toBeInTheDocument();
    expect(screen.getByText('2 KB used, no limit')).toBeInTheDocument();
    expect(screen.getByText(/No password set/)).toBeInTheDocument();
    fireEvent.click(screen.getByRole('switch', { name: 'Mailbox alice@example.com turned on' }));
    await waitFor(() => expect(calls(fetch)).toContain('PATCH /accounts/alice@example.com'));
    const patch = fetch.mock.calls.find(([, init]) => (init as RequestInit | undefined)?.method === 'PATCH');
    expect(JSON.parse(String((patch![1] as RequestInit).body))).toEqual({ enabled: false });

    fireEvent.change(screen.getByTestId('account-address'), { target: { value: 'carol@example.com' } });
    fireEvent.change(screen.getByTestId('account-password'), { target: { value: 'pw-123456' } });
    fireEvent.click(screen.getByTestId('account-submit'));
    await waitFor(() => expect(created).toEqual({ address: 'carol@example.com', password: 'pw-123456', quota_bytes: 0 }));
  });
});
