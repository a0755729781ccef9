/**
 * Settings show their explanation, the engine's refusal next to the field,
 * and say when a change waits for a restart.
 */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Settings } from '../pages/Settings';
import { calls, mockApi, renderPage, status } from '../test/helpers';

const certificate = {
  subject: 'mail.example.com',
  names: ['mail.example.com', 'localhost'],
  issuer: 'mail.example.com',
  self_signed: true,
  not_before: '2026-11-01T00:00:00Z',
  not_after: '2029-02-04T00:00:00Z',
  days_left: 800,
  fingerprint_sha256: 'AB:CD',
  chain_length: 1,
};

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
      'GET /certificate': { body: certificate },
    });
    renderPage(<Settings />);
    const row = await screen.findByTestId('setting-row-max_connections');
    expect(within(row).getByText('After restart')).toBeInTheDocument();
    expect(within(screen.getByTestId('setting-row-max_recipients')).queryByText('After restart')).toBeNull();
    await waitFor(() => expect(screen.getByTestId('restart-needed')).toHaveTextContent('Most connections in total'));
    await waitFor(() => expect(screen.getByTestId('certificate-info')).toHaveTextContent('Valid until'));
    expect(screen.getByTestId('certificate-info')).toHaveTextContent('Self-signed');
  });

  it('imports a certificate only after the server accepts it, and says why it refused', async () => {
    let imported = false;
    const fn = mockApi({
      'GET /settings': { body: settings },
      'GET /status': { body: status() },
      'GET /certificate': { body: certificate },
      'PUT /certificate': ({ body }) => {
        const b = body as { cert_pem: string; key_pem: string };
        if (b.key_pem.includes('WRONG')) return { status: 422, body: { error: 'The private key does not belong to this certificate.' } };
        imported = true;
        return { body: { ...certificate, self_signed: false, issuer: 'R11', fingerprint_sha256: 'EF:01' } };
      },
    });
    renderPage(<Settings />);
    fireEvent.click(await screen.findByTestId('certificate-import-open'));
    fireEvent.change(screen.getByTestId('certificate-pem'), { target: { value: '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----' } });
    fireEvent.change(screen.getByTestId('certificate-key'), { target: { value: 'WRONG' } });
    fireEvent.click(screen.getByTestId('certificate-import-save'));
    expect(await screen.findByTestId('certificate-error')).toHaveTextContent('does not belong to this certificate');
    expect(screen.getByTestId('certificate-info')).toHaveTextContent('Self-signed');
    fireEvent.change(screen.getByTestId('certificate-key'), { target: { value: '-----BEGIN PRIVATE KEY-----' } });
    fireEvent.click(screen.getByTestId('certificate-import-save'));
    await waitFor(() => expect(screen.getByTestId('certificate-info')).toHaveTextContent('Issued by R11'));
    expect(imported).toBe(true);
    expect(calls(fn).filter((c) => c === 'PUT /certificate')).toHaveLength(2);
  });

  it('makes a new self-signed certificate for the host name after asking', async () => {
    let names: unknown = 'not asked';
    mockApi({
      'GET /settings': { body: settings },
      'GET /status': { body: status({ hostname: 'mail.example.com' }) },
      'GET /certificate': { body: certificate },
      'POST /certificate/self-signed': ({ body }) => {
        names = (body as { names?: string[] }).names;
        return { body: { ...certificate, fingerprint_sha256: '99:99' } };
      },
    });
    renderPage(<Settings />);
    fireEvent.click(await screen.findByTestId('certificate-regenerate'));
    fireEvent.click(await screen.findByTestId('confirm-button'));
    await waitFor(() => expect(screen.getByTestId('certificate-info')).toHaveTextContent('99:99'));
    expect(names).toBeUndefined(); // the server's default: the host name and localhost
  });
});
