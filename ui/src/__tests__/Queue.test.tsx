/**
 * The queue shows each recipient's last error and retries or deletes a message.
 */
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Queue } from '../pages/Queue';
import { calls, mockApi, renderPage } from '../test/helpers';

const now = Math.floor(Date.now() / 1000);
const listing = {
  paused: false,
  messages: [
    {
      id: 'AB12',
      sender: 'alice@example.com',
      status: 'deferred',
      attempts: 2,
      next_attempt_at: now + 600,
      arrived_at: now - 3600,
      last_error: '451 try later',
      recipients: [
        { address: 'bob@remote.example', status: 'deferred', attempts: 2, next_attempt_at: now + 600, last_error: '451 4.7.1 Greylisted, try later' },
        { address: 'carol@other.example', status: 'queued', attempts: 0, next_attempt_at: now },
      ],
    },
  ],
};

describe('Queue', () => {
  it('shows recipients with their last error, and retries and deletes', async () => {
    const fetch = mockApi({
      'GET /queue': { body: listing },
      'POST /queue/AB12/retry': { body: { recipients: 2, paused: false } },
      'DELETE /queue/AB12': { status: 204 },
      'POST /queue/pause': { body: { recipients: 0, paused: true } },
    });
    renderPage(<Queue />);
    expect(await screen.findByText('451 4.7.1 Greylisted, try later')).toBeInTheDocument();
    expect(screen.getByText('carol@other.example')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Try message AB12 now' }));
    await waitFor(() => expect(calls(fetch)).toContain('POST /queue/AB12/retry'));
    fireEvent.click(screen.getByRole('button', { name: 'Delete message AB12' }));
    fireEvent.click(await screen.findByTestId('confirm-button'));
    await waitFor(() => expect(calls(fetch)).toContain('DELETE /queue/AB12'));
    fireEvent.click(screen.getByTestId('queue-pause'));
    await waitFor(() => expect(calls(fetch)).toContain('POST /queue/pause'));
  });
});
