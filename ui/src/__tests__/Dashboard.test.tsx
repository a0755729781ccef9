/**
 * The dashboard shows the engine's warnings, which service is stopped, and
 * turns a service off with its switch.
 */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Dashboard, hourlyPoints } from '../pages/Dashboard';
import { calls, listener, mockApi, renderPage, status } from '../test/helpers';

const summary = { today_since: '', today: { received: 42, sent: 7 }, last_hour: {}, today_by_domain: {}, today_by_mailbox: {} };
const stats = { granularity: 'hour', from: '', to: '', series: [] };

describe('Dashboard', () => {
  it('shows a warning from the status and a stopped service', async () => {
    mockApi({
      'GET /status': { body: status({ warnings: ['Free disk space is low: 512 MB left.'] }) },
      'GET /stats/summary': { body: summary },
      'GET /stats': { body: stats },
    });
    renderPage(<Dashboard />);
    const warnings = await screen.findByTestId('warnings');
    expect(warnings).toHaveTextContent('Free disk space is low: 512 MB left.');
    expect(warnings).toHaveTextContent('Needs your attention');
    const imaps = screen.getByTestId('listener-imaps');
    expect(within(imaps).getByText('Stopped')).toBeInTheDocument();
    expect(within(screen.getByTestId('listener-smtp')).getByText('Running')).toBeInTheDocument();
    expect(screen.getByRole('switch', { name: /IMAP \(SSL\)/ })).not.toBeChecked();
    // The admin API itself cannot be turned off.
    expect(screen.getByRole('switch', { name: /Administration \(this page\)/ })).toBeDisabled();
    expect(await screen.findByText('42')).toBeInTheDocument();
    expect(screen.getByTestId('count-queue')).toHaveTextContent('3');
  });

  it('turns a service off with its switch', async () => {
    let running = true;
    const fetch = mockApi({
      'GET /status': () => ({ body: status({ listeners: [listener('smtp', running)] }) }),
      'GET /stats/summary': { body: summary },
      'GET /stats': { body: stats },
      'POST /listeners/smtp/stop': () => {
        running = false;
        return { body: { changed: true, listener: listener('smtp', false) } };
      },
    });
    renderPage(<Dashboard />);
    const sw = await screen.findByRole('switch', { name: /Incoming mail \(SMTP/ });
    expect(sw).toBeChecked();
    fireEvent.click(sw);
    await waitFor(() => expect(calls(fetch)).toContain('POST /listeners/smtp/stop'));
    await waitFor(() => expect(within(screen.getByTestId('listener-smtp')).getByText('Stopped')).toBeInTheDocument());
  });

  it('fills 24 hourly chart points, zero where nothing happened', () => {
    const now = new Date('2026-03-01T12:30:00Z');
    const pts = hourlyPoints(
      {
        granularity: 'hour',
        from: '',
        to: '',
        series: [{ metric: 'received', scope: '', total: 5, points: [{ time: '2026-03-01T11:00:00Z', count: 5 }] }],
      },
      now,
    );
    expect(pts).toHaveLength(24);
    expect(pts[22].received).toBe(5);
    expect(pts[23].received).toBe(0);
    expect(pts[0].sent).toBe(0);
  });
});
