/**
 * Settings show their explanation, the engine's refusal next to the field,
 * and say when a change waits for a restart.
 */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Settings } from '../pages/Settings';
import { mockApi, renderPage, status } from '../test/helpers';

const settings = [
  { key: 'max_recipients', value: '100', default: '100', help: 'Most recipients per message', applies: 'now' },
  { key: 'max_connections', value: '1000', default: '1000', help: 'Most simultaneous client connections in total', applies: 'restart' },
  { key: 'admin_remote_access', value: 'false', default: 'false', help: 'remote', applies: 'now' },
];

describe('Settings', () => {
  it('shows the API validation error inline', async () => {
    mockApi({
      'GET /settings': { body: settings },
      'GET /status': { body: status() },
      'PUT /settings/max_recipients': { status: 422, body: { error: 'max_recipients must be a whole number from 1 to 100000' } },
    });
    renderPage(<Settings />);
    const row = await screen.findByTestId('setting-row-max_recipients');
    const input = within(row).getByRole('textbox');
    fireEvent.change(input, { target: { value: 'abc' } });
    fireEvent.click(within(row).getByRole('button', { name: /Save/ }));
    expect(await within(row).findByText('max_recipients must be a whole number from 1 to 100000')).toBeInTheDocument();
    expect(screen.getByTestId('settings-group-limits')).toContainElement(row);
  });

  it('marks settings that apply after a restart and lists pending ones', async () => {
    mockApi({
      'GET /settings': { body: settings },
      'GET /status': { body: status({ restart_needed: ['max_connections'] }) },
    });
    renderPage(<Settings />);
    const row = await screen.findByTestId('setting-row-max_connections');
    expect(within(row).getByText('After restart')).toBeInTheDocument();
    expect(within(screen.getByTestId('setting-row-max_recipients')).queryByText('After restart')).toBeNull();
    await waitFor(() => expect(screen.getByTestId('restart-needed')).toHaveTextContent('Most connections in total'));
    expect(screen.getByTestId('certificate')).toHaveTextContent('valid until');
  });
});
