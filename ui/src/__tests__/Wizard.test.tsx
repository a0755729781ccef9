/**
 * On first run (no domain yet) the setup wizard opens by itself; it does not
 * when a domain exists, and leaving it goes to the dashboard.
 */
import { fireEvent, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Root } from '../App';
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
});
