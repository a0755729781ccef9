/**
 * The IP filter lists rules in priority order and shows the engine's own
 * sentence when it refuses a rule.
 */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { IpFilter } from '../pages/IpFilter';
import { mockApi, renderPage } from '../test/helpers';

const rules = [
  { id: 8, network: '0.0.0.0/0', protocols: 'all', action: 'allow', relay: false, priority: 1000, note: 'Everyone else' },
  { id: 1, network: '127.0.0.0/8', protocols: 'all', action: 'allow', relay: true, priority: 10, note: 'This computer' },
  { id: 3, network: '10.0.0.0/8', protocols: 'smtp,imap', action: 'deny', relay: false, priority: 20, note: 'Local' },
];

describe('IP filter', () => {
  it('lists rules by priority and explains the first-match rule', async () => {
    mockApi({ 'GET /ip-ranges': { body: rules } });
    renderPage(<IpFilter />);
    await screen.findByText('127.0.0.0/8');
    const rows = within(screen.getByTestId('ip-table')).getAllByRole('row').slice(1);
    expect(rows.map((r) => r.getAttribute('data-testid'))).toEqual(['ip-rule-1', 'ip-rule-3', 'ip-rule-8']);
    expect(screen.getByText(/first rule that matches/)).toBeInTheDocument();
    expect(within(rows[1]).getByText('Refuse')).toBeInTheDocument();
  });

  it('shows the API 422 error text in the form', async () => {
    const sentence = '"300.1.1.1" is not a network; write it like 192.168.1.0/24';
    mockApi({
      'GET /ip-ranges': { body: rules },
      'POST /ip-ranges': { status: 422, body: { error: sentence } },
    });
    renderPage(<IpFilter />);
    fireEvent.click(await screen.findByTestId('ip-add'));
    const form = await screen.findByTestId('ip-rule-form');
    fireEvent.change(within(form).getByRole('textbox', { name: /Network/ }), { target: { value: '300.1.1.1' } });
    fireEvent.click(within(form).getByTestId('ip-save'));
    await waitFor(() => expect(within(form).getByRole('alert')).toHaveTextContent(sentence));
  });
});
