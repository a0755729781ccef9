/**
 * Setup wizard, opened by itself on first run (no domain yet) and reachable
 * from the navigation afterwards. Steps: the server's host name, the mail
 * domain, the admin password, the first mailboxes, the certificate, the DNS
 * records to publish (with a live check), a test message with its journey,
 * and the settings to type into mail programs. The admin can leave at any
 * step and come back; the step and domain are remembered.
 */
import { Alert, Box, Button, Card, Flex, Group, PasswordInput, Select, Stack, Stepper, Table, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { api } from '../api/client';
import { getToken, setToken } from '../api/auth';
import type { AccountInfo, DomainInfo, Setting, Status, TestMessageSent } from '../api/types';
import { CertificatePanel } from '../components/Certificate';
import { DnsRecords } from '../components/DnsRecords';
import { TraceView } from '../components/TraceView';
import { ErrorAlert, PageHeader, useAction } from '../components/common';
import { useLoad } from '../useLoad';
import { AddAccountForm } from './Accounts';
import { AddDomainForm } from './Domains';

/** Set (per tab session) when the admin leaves or finishes the wizard, so it does not open by itself again. */
export const WIZARD_LEFT_KEY = 'mailroom.wizardLeft';
const PROGRESS_KEY = 'mailroom.wizard';

interface Progress {
  step: number;
  domain: string | null;
}

function loadProgress(): Progress {
  try {
    const p = JSON.parse(localStorage.getItem(PROGRESS_KEY) ?? '');
    if (typeof p.step === 'number') return { step: p.step, domain: p.domain ?? null };
  } catch {
    /* none yet */
  }
  return { step: 0, domain: null };
}

function HostnameStep({ onDone }: { onDone: () => void }) {
  const { t } = useTranslation();
  const settings = useLoad(() => api<Setting[]>('GET', '/settings'));
  const current = settings.data?.find((s) => s.key === 'hostname');
  const [value, setValue] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const shown = value ?? current?.value ?? '';

  const save = (e: React.FormEvent) => {
    e.preventDefault();
    void run(async () => {
      if (shown.trim() !== current?.value) await api('PUT', '/settings/hostname', { value: shown.trim() });
      onDone();
    });
  };
  return (
    <form onSubmit={save}>
      <Stack>
        <Text>{t('wizard.hostnameIntro')}</Text>
        <ErrorAlert error={settings.error} />
        <TextInput
          label={t('settingNames.hostname')}
          description={t('wizard.hostnameHelp')}
          placeholder="mail.example.com"
          value={shown}
          onChange={(e) => setValue(e.currentTarget.value)}
          error={error}
          required
          w={420}
          data-testid="wizard-hostname"
        />
        <Text size="sm" c="dimmed">
          {t('wizard.hostnameRestart')}
        </Text>
        <Group>
          <Button type="submit" loading={busy} data-testid="wizard-next">
            {t('wizard.saveAndNext')}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function DomainStep({ domain, onChosen }: { domain: string | null; onChosen: (d: string) => void }) {
  const { t } = useTranslation();
  const domains = useLoad(() => api<DomainInfo[]>('GET', '/domains'));
  const list = domains.data ?? [];
  return (
    <Stack>
      <Text>{t('wizard.domainIntro')}</Text>
      <AddDomainForm onAdded={(d) => onChosen(d.name)} />
      {list.length > 0 && (
        <Group align="flex-end">
          <Select
            label={t('wizard.pickDomain')}
            data={list.map((d) => d.name)}
            value={domain}
            onChange={(v) => v && onChosen(v)}
            w={360}
            data-testid="wizard-domain-select"
          />
          {domain && (
            <Button onClick={() => onChosen(domain)} data-testid="wizard-next">
              {t('wizard.next')}
            </Button>
          )}
        </Group>
      )}
    </Stack>
  );
}

function MailboxesStep({ domain, onNext }: { domain: string; onNext: () => void }) {
  const { t } = useTranslation();
  const accounts = useLoad(() => api<AccountInfo[]>('GET', `/accounts?domain=${encodeURIComponent(domain)}`), [domain]);
  return (
    <Stack>
      <Text>{t('wizard.mailboxesIntro', { domain })}</Text>
      <AddAccountForm domain={domain} onAdded={() => void accounts.reload()} />
      {accounts.data && accounts.data.length > 0 && (
        <Card withBorder>
          <Text fw={500} mb="xs">
            {t('wizard.mailboxesSoFar')}
          </Text>
          {accounts.data.map((a) => (
            <Text key={a.address}>{a.address}</Text>
          ))}
        </Card>
      )}
      <Group>
        <Button onClick={onNext} data-testid="wizard-next">
          {accounts.data && accounts.data.length > 0 ? t('wizard.next') : t('wizard.skip')}
        </Button>
      </Group>
    </Stack>
  );
}

function AdminPasswordStep({ onDone }: { onDone: () => void }) {
  const { t } = useTranslation();
  const status = useLoad(() => api<Status>('GET', '/status'));
  const [pw, setPw] = useState('');
  const [again, setAgain] = useState('');
  const { busy, error, setError, run } = useAction();
  const isSet = status.data?.admin_password_set === true;

  const save = (e: React.FormEvent) => {
    e.preventDefault();
    if (pw.length < 8) return setError(t('wizard.passwordShort'));
    if (pw !== again) return setError(t('wizard.passwordMismatch'));
    void run(async () => {
      const before = getToken();
      const r = await api<{ token: string }>('PUT', '/admin-password', { password: pw });
      // Password logins end; this computer's own key (the desktop app's) stays valid.
      const still = before ? await fetch('/api/v1/status', { headers: { Authorization: `Bearer ${before}` } }) : null;
      if (!still || still.status !== 200) setToken(r.token);
      onDone();
    });
  };
  return (
    <form onSubmit={save}>
      <Stack>
        <Text>{t('wizard.passwordIntro')}</Text>
        {isSet && <Alert color="green" data-testid="wizard-password-set">{t('wizard.passwordIsSet')}</Alert>}
        <PasswordInput label={t('wizard.password')} value={pw} onChange={(e) => setPw(e.currentTarget.value)} w={360} data-testid="wizard-password" autoComplete="new-password" />
        <PasswordInput
          label={t('wizard.passwordAgain')}
          value={again}
          onChange={(e) => setAgain(e.currentTarget.value)}
          error={error}
          w={360}
          data-testid="wizard-password-again"
          autoComplete="new-password"
        />
        <Group>
          <Button type="submit" loading={busy} data-testid="wizard-password-save">
            {t('wizard.saveAndNext')}
          </Button>
          {isSet && (
            <Button variant="default" onClick={onDone} data-testid="wizard-next">
              {t('wizard.keepPassword')}
            </Button>
          )}
        </Group>
      </Stack>
    </form>
  );
}

function CertificateStep({ onNext }: { onNext: () => void }) {
  const { t } = useTranslation();
  const status = useLoad(() => api<Status>('GET', '/status'));
  return (
    <Stack>
      <Text>{t('wizard.certIntro')}</Text>
      {status.data && <CertificatePanel hostname={status.data.hostname} />}
      <Group>
        <Button onClick={onNext} data-testid="wizard-next">
          {t('wizard.next')}
        </Button>
      </Group>
    </Stack>
  );
}

function TestMessageStep({ domain, onNext }: { domain: string; onNext: () => void }) {
  const { t } = useTranslation();
  const accounts = useLoad(() => api<AccountInfo[]>('GET', `/accounts?domain=${encodeURIComponent(domain)}`), [domain]);
  const first = accounts.data?.find((a) => !a.address.startsWith('postmaster@'))?.address ?? `postmaster@${domain}`;
  const [to, setTo] = useState<string | null>(null);
  const [sent, setSent] = useState<TestMessageSent | null>(null);
  const { busy, error, run } = useAction();
  const address = to ?? first;

  const send = (e: React.FormEvent) => {
    e.preventDefault();
    setSent(null);
    void run(async () => setSent(await api<TestMessageSent>('POST', '/test-message', { to: address.trim() })));
  };
  return (
    <Stack>
      <Text>{t('wizard.testIntro')}</Text>
      <form onSubmit={send}>
        <Group align="flex-end">
          <TextInput label={t('wizard.testTo')} value={address} onChange={(e) => setTo(e.currentTarget.value)} error={error} w={360} data-testid="wizard-test-to" />
          <Button type="submit" loading={busy} data-testid="wizard-test-send">
            {t('wizard.testSend')}
          </Button>
        </Group>
      </form>
      {sent && (
        <Alert color={sent.local ? 'green' : 'blue'} data-testid="wizard-test-result">
          {sent.local ? t('wizard.testLocal', { to: address, from: sent.from }) : t('wizard.testQueued', { to: address, from: sent.from })}
        </Alert>
      )}
      {sent && <TraceView id={sent.message_id} />}
      <Group>
        <Button onClick={onNext} data-testid="wizard-next">
          {sent ? t('wizard.next') : t('wizard.skip')}
        </Button>
      </Group>
    </Stack>
  );
}

function ClientSettings({ domain }: { domain: string }) {
  const { t } = useTranslation();
  const status = useLoad(() => api<Status>('GET', '/status'));
  const host = status.data?.hostname ?? '';
  const port = (name: string, fallback: number) => {
    const l = status.data?.listeners.find((x) => x.name === name);
    const m = l && /:(\d+)$/.exec(l.address);
    return m ? Number(m[1]) : fallback;
  };
  const rows = [
    { what: t('wizard.incoming'), proto: 'IMAP', port: port('imaps', 993), security: t('wizard.ssl') },
    { what: t('wizard.outgoing'), proto: 'SMTP', port: port('submission', 587), security: 'STARTTLS' },
    { what: t('wizard.outgoingAlt'), proto: 'SMTP', port: port('submissions', 465), security: t('wizard.ssl') },
  ];
  return (
    <Stack>
      <Text>{t('wizard.clientsIntro')}</Text>
      <Table withTableBorder data-testid="client-settings">
        <Table.Thead>
          <Table.Tr>
            <Table.Th />
            <Table.Th>{t('wizard.server')}</Table.Th>
            <Table.Th>{t('wizard.port')}</Table.Th>
            <Table.Th>{t('wizard.security')}</Table.Th>
            <Table.Th>{t('wizard.username')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((r) => (
            <Table.Tr key={r.what}>
              <Table.Td>
                {r.what} ({r.proto})
              </Table.Td>
              <Table.Td ff="monospace">{host}</Table.Td>
              <Table.Td>{r.port}</Table.Td>
              <Table.Td>{r.security}</Table.Td>
              <Table.Td>{t('wizard.fullAddress', { example: `alice@${domain}` })}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Text size="sm" c="dimmed">
        {t('wizard.passwordNote')}
      </Text>
    </Stack>
  );
}

export function Wizard() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [progress, setProgress] = useState<Progress>(loadProgress);
  const save = (p: Progress) => {
    setProgress(p);
    localStorage.setItem(PROGRESS_KEY, JSON.stringify(p));
  };
  const go = (step: number) => save({ ...progress, step });
  const leave = () => {
    sessionStorage.setItem(WIZARD_LEFT_KEY, '1');
    navigate('/');
  };
  const { step, domain } = progress;
  const needDomain = step >= 2 && !domain;

  const steps = [
    { label: t('wizard.stepHost'), description: t('wizard.stepHostDesc'), content: <HostnameStep onDone={() => go(1)} /> },
    {
      label: t('wizard.stepDomain'),
      description: t('wizard.stepDomainDesc'),
      content: <DomainStep domain={domain} onChosen={(d) => save({ step: 2, domain: d })} />,
    },
    { label: t('wizard.stepPassword'), description: t('wizard.stepPasswordDesc'), content: <AdminPasswordStep onDone={() => go(3)} /> },
    {
      label: t('wizard.stepMailboxes'),
      description: t('wizard.stepMailboxesDesc'),
      content: domain && <MailboxesStep domain={domain} onNext={() => go(4)} />,
    },
    { label: t('wizard.stepCert'), description: t('wizard.stepCertDesc'), content: <CertificateStep onNext={() => go(5)} /> },
    {
      label: t('wizard.stepDns'),
      description: t('wizard.stepDnsDesc'),
      content: domain && (
        <Stack>
          <Text>{t('wizard.dnsIntro')}</Text>
          <DnsRecords domain={domain} />
          <Group>
            <Button onClick={() => go(6)} data-testid="wizard-next">
              {t('wizard.next')}
            </Button>
          </Group>
        </Stack>
      ),
    },
    {
      label: t('wizard.stepTest'),
      description: t('wizard.stepTestDesc'),
      content: domain && <TestMessageStep domain={domain} onNext={() => go(7)} />,
    },
    {
      label: t('wizard.stepClients'),
      description: t('wizard.stepClientsDesc'),
      content: domain && (
        <Stack>
          <ClientSettings domain={domain} />
          <Alert color="green">{t('wizard.doneText')}</Alert>
          <Group>
            <Button
              onClick={() => {
                save({ step: 0, domain });
                leave();
              }}
              data-testid="wizard-finish"
            >
              {t('wizard.finish')}
            </Button>
          </Group>
        </Stack>
      ),
    },
  ];
  const active = needDomain ? 1 : Math.min(step, steps.length - 1);

  return (
    <Stack data-testid="wizard">
      <PageHeader
        title={t('wizard.title')}
        intro={t('wizard.intro')}
        actions={
          <Button variant="default" onClick={leave} data-testid="wizard-leave">
            {t('wizard.leave')}
          </Button>
        }
      />
      <Flex gap="xl" direction={{ base: 'column', md: 'row' }} align="flex-start">
        <Box miw={220}>
          <Stepper
            orientation="vertical"
            size="sm"
            active={active}
            onStepClick={(s) => (s < 2 || domain ? go(s) : undefined)}
            allowNextStepsSelect={false}
            data-testid="wizard-steps"
          >
            {steps.map((st) => (
              <Stepper.Step key={st.label} label={st.label} description={st.description} />
            ))}
          </Stepper>
        </Box>
        <Box style={{ flex: 1, minWidth: 0 }}>{steps[active].content}</Box>
      </Flex>
      {step > 0 && (
        <Group>
          <Button variant="subtle" onClick={() => go(step - 1)} data-testid="wizard-back">
            {t('wizard.back')}
          </Button>
        </Group>
      )}
    </Stack>
  );
}
