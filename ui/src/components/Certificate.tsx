/**
 * The certificate for encrypted connections (Settings and the setup wizard):
 * who it is for, who issued it and until when, and two ways to change it —
 * a new self-signed certificate for the server's name, or a certificate from
 * a certificate authority pasted or loaded from files. The server checks an
 * imported certificate completely before using it, and new connections use
 * the new one at once.
 */
import { Alert, Badge, Button, Card, FileButton, Group, Loader, Stack, Text, Textarea } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api/client';
import type { CertificateInfo } from '../api/types';
import { fmtDate } from '../format';
import { useLoad } from '../useLoad';
import { ErrorAlert, useAction } from './common';
import { Confirm } from './Confirm';

function PemField({ label, help, value, onChange, testid }: { label: string; help: string; value: string; onChange: (v: string) => void; testid: string }) {
  const { t } = useTranslation();
  return (
    <Stack gap={4}>
      <Textarea
        label={label}
        description={help}
        value={value}
        onChange={(e) => onChange(e.currentTarget.value)}
        rows={5}
        resize="vertical"
        ff="monospace"
        styles={{ input: { fontSize: 12 } }}
        data-testid={testid}
      />
      <FileButton onChange={(f) => f && void f.text().then(onChange)} accept=".pem,.crt,.cer,.key,text/plain">
        {(props) => (
          <Button {...props} variant="subtle" size="compact-sm" w="fit-content">
            {t('cert.fromFile')}
          </Button>
        )}
      </FileButton>
    </Stack>
  );
}

export function CertificatePanel({ hostname, onChanged }: { hostname: string; onChanged?: () => void }) {
  const { t } = useTranslation();
  const cert = useLoad(() => api<CertificateInfo>('GET', '/certificate'));
  const [importing, setImporting] = useState(false);
  const [certPem, setCertPem] = useState('');
  const [keyPem, setKeyPem] = useState('');
  const [confirm, setConfirm] = useState(false);
  const { busy, error, run } = useAction();

  const changed = (c: CertificateInfo, message: string) => {
    cert.setData(c);
    notifications.show({ color: 'green', message });
    onChanged?.();
  };
  const regenerate = async () => {
    await run(async () =>
      // The server's default names: its host name and localhost.
      changed(await api<CertificateInfo>('POST', '/certificate/self-signed', {}), t('cert.regenerated')),
    );
    setConfirm(false);
  };
  const doImport = (e: React.FormEvent) => {
    e.preventDefault();
    void run(async () => {
      changed(await api<CertificateInfo>('PUT', '/certificate', { cert_pem: certPem, key_pem: keyPem }), t('cert.imported'));
      setImporting(false);
      setCertPem('');
      setKeyPem('');
    });
  };

  const c = cert.data;
  return (
    <Stack data-testid="certificate">
      <ErrorAlert error={cert.error} />
      {cert.loading && !c && <Loader size="sm" />}
      {c && (
        <Card withBorder padding="sm" data-testid="certificate-info">
          <Group gap="xs" mb={4}>
            <Text fw={500}>{c.subject || c.names[0]}</Text>
            {c.self_signed ? (
              <Badge color="yellow" variant="light">
                {t('cert.selfSigned')}
              </Badge>
            ) : (
              <Badge color="green" variant="light">
                {t('cert.issuedBy', { issuer: c.issuer })}
              </Badge>
            )}
            {c.days_left < 0 && <Badge color="red">{t('cert.expired')}</Badge>}
          </Group>
          <Text size="sm">{t('cert.names', { names: c.names.join(', ') })}</Text>
          <Text size="sm">{t('cert.validUntil', { date: fmtDate(c.not_after), days: c.days_left })}</Text>
          <Text size="xs" c="dimmed" ff="monospace">
            SHA-256 {c.fingerprint_sha256}
          </Text>
        </Card>
      )}
      {c?.self_signed && (
        <Text size="sm" c="dimmed">
          {t('cert.selfSignedNote')}
        </Text>
      )}
      {error && (
        <Alert color="red" data-testid="certificate-error">
          {error}
        </Alert>
      )}
      <Group>
        <Button variant={importing ? 'filled' : 'light'} onClick={() => setImporting(!importing)} data-testid="certificate-import-open">
          {t('cert.import')}
        </Button>
        <Button variant="default" onClick={() => setConfirm(true)} data-testid="certificate-regenerate">
          {t('cert.regenerate', { name: hostname })}
        </Button>
      </Group>
      {importing && (
        <form onSubmit={doImport}>
          <Stack>
            <Text size="sm">{t('cert.importIntro', { name: hostname })}</Text>
            <PemField label={t('cert.chain')} help={t('cert.chainHelp')} value={certPem} onChange={setCertPem} testid="certificate-pem" />
            <PemField label={t('cert.key')} help={t('cert.keyHelp')} value={keyPem} onChange={setKeyPem} testid="certificate-key" />
            <Group>
              <Button type="submit" loading={busy} disabled={!certPem.trim() || !keyPem.trim()} data-testid="certificate-import-save">
                {t('cert.importSave')}
              </Button>
            </Group>
          </Stack>
        </form>
      )}
      <Confirm
        opened={confirm}
        title={t('cert.regenerateTitle')}
        text={t('cert.regenerateText', { name: hostname })}
        confirmLabel={t('cert.regenerateConfirm')}
        onConfirm={() => void regenerate()}
        onClose={() => setConfirm(false)}
        busy={busy}
      />
    </Stack>
  );
}
