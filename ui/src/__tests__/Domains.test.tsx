/**
 * Domains: adding one shows the engine's refusal; the DNS records of a domain
 * turn green or red after "Check now", with the engine's explanation.
 */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Domains } from '../pages/Domains';
import { mockApi, renderPage } from '../test/helpers';

const mx = { kind: 'mx', type: 'MX', name: 'example.com', value: '10 mail.example.com.', purpose: 'Tells other servers where to deliver mail.', required: true };
const spf = { kind: 'spf', type: 'TXT', name: 'example.com', value: 'v=spf1 mx -all', purpose: 'SPF', required: true };

describe('Domains', () => {
  it('shows the engine sentence when a domain is refused', async () => {
    mockApi({
      'GET /domains': { body: [] },
      'POST /domains': { status: 422, body: { error: '"bad domain" is not a valid domain name' } },
    });
    renderPage(<Domains />);
    expect(await screen.findByText(/No domains yet/)).toBeInTheDocument();
    fireEvent.change(screen.getByTestId('add-domain-name'), { target: { value: 'bad domain' } });
    fireEvent.click(screen.getByTestId('add-domain-submit'));
    expect(await screen.findByText('"bad domain" is not a valid domain name')).toBeInTheDocument();
  });

  it('checks the DNS records live and marks each one', async () => {
    mockApi({
      'GET /domains': { body: [{ name: 'example.com', accounts: 2, catch_all: null }] },
      'GET /domains/example.com/dns': { body: { domain: 'example.com', hostname: 'mail.example.com', records: [mx, spf] } },
      'GET /domains/example.com/dns/check': {
        body: {
          domain: 'example.com',
          hostname: 'mail.example.com',
          ok: false,
          records: [
            { ...mx, status: 'ok', found: ['10 mail.example.com.'], detail: 'The MX record is right.' },
            { ...spf, status: 'missing', found: [], detail: 'No SPF record is published; add the TXT record shown.' },
          ],
        },
      },
    });
    renderPage(<Domains />);
    fireEvent.click(await screen.findByRole('button', { name: 'DNS records and catch-all' }));
    expect(await screen.findByText('10 mail.example.com.')).toBeInTheDocument();
    fireEvent.click(screen.getByTestId('dns-check'));
    await waitFor(() => expect(screen.getByTestId('dns-check-result')).toHaveTextContent('Some required records are missing or wrong'));
    expect(screen.getByTestId('dns-status-mx')).toHaveTextContent('Correct');
    const spfRow = screen.getByTestId('dns-record-spf');
    expect(within(spfRow).getByText('Missing')).toBeInTheDocument();
    expect(within(spfRow).getByText('No SPF record is published; add the TXT record shown.')).toBeInTheDocument();
  });
});
