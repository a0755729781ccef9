/**
 * Domains: the mail domains this server receives mail for. Add and remove
 * them; for each one, the DNS records to publish (with a live check) and the
 * catch-all address for mail to unknown names.
 */
import { Button, Card, Group, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconPlus } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, seg } from '../api/client';
import type { DomainInfo } from '../api/types';
import { Confirm } from '../components/Confirm';
import { DnsRecords } from '../components/DnsRecords';
import { ErrorAlert, PageHeader, RemoveButton, useAction, useErrorToast } from '../components/common';
import { fmtNumber } from '../format';
import { useLoad } from '../useLoad';

/** Form to add a domain; used here and in the wizard. */
export function AddDomainForm({ onAdded }: { onAdded: (d: DomainInfo) => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState('');
  const { busy, error, run } = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    await run(async () => {
      const d = await api<DomainInfo>('POST', '/domains', { name: name.trim() });
      setName('');
      onAdded(d);
    });
  };
  return (
    <form onSubmit={submit} aria-label={t('domains.addTitle')} data-testid="add-domain-form">
      <Group align="flex-start">
        <TextInput
          label={t('domains.name')}
          description={t('domains.nameHelp')}
          placeholder="example.com"
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          error={error}
          required
          w={360}
          data-testid="add-domain-name"
        />
        <Button type="submit" mt={46} loading={busy} leftSection={<IconPlus size={16} />} data-testid="add-domain-submit">
          {t('domains.add')}
        </Button>
      </Group>
    </form>
  );
}

function CatchAll({ domain, onSaved }: { domain: DomainInfo; onSaved: () => void }) {
  const { t } = useTranslation();
  const [target, setTarget] = useState(domain.catch_all ?? '');
  const { busy, error, run } = useAction();
  const save = async (value: string | null) => {
    await run(async () => {
      await api('PUT', `/domains/${seg(domain.name)}/catch-all`, { target: value });
      if (value === null) setTarget('');
      notifications.show({ color: 'green', message: t('common.saved') });
      onSaved();
    });
  };
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void save(target.trim() || null);
      }}
    >
      <Group align="flex-start">
        <TextInput
          label={t('domains.catchAll')}
          description={t('domains.catchAllHelp')}
          placeholder={`postmaster@${domain.name}`}
          value={target}
          onChange={(e) => setTarget(e.currentTarget.value)}
          error={error}
          w={360}
          data-testid="catch-all-input"
        />
        <Button type="submit" mt={46} loading={busy} data-testid="catch-all-save">
          {t('common.save')}
        </Button>
        {domain.catch_all && (
          <Button mt={46} variant="default" onClick={() => void save(null)} data-testid="catch-all-off">
            {t('domains.catchAllOff')}
          </Button>
        )}
      </Group>
    </form>
  );
}

export function Domains() {
  const { t } = useTranslation();
  const showError = useErrorToast();
  const domains = useLoad(() => api<DomainInfo[]>('GET', '/domains'));
  const [selected, setSelected] = useState<string | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    try {
      await api('DELETE', `/domains/${seg(removing)}`);
      if (selected === removing) setSelected(null);
      setRemoving(null);
      await domains.reload();
    } catch (e) {
      showError(e);
    } finally {
      setBusy(false);
    }
  };

  const current = domains.data?.find((d) => d.name === selected);

  return (
    <Stack>
      <PageHeader title={t('domains.title')} intro={t('domains.intro')} />
      <Card withBorder>
        <AddDomainForm
          onAdded={(d) => {
            setSelected(d.name);
            void domains.reload();
          }}
        />
      </Card>
      <ErrorAlert error={domains.error} />
      {domains.data && domains.data.length === 0 && <Text c="dimmed">{t('domains.empty')}</Text>}
      {domains.data && domains.data.length > 0 && (
        <Table highlightOnHover data-testid="domains-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('domains.name')}</Table.Th>
              <Table.Th>{t('domains.accounts')}</Table.Th>
              <Table.Th>{t('domains.catchAll')}</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {domains.data.map((d) => (
              <Table.Tr key={d.name} data-testid={`domain-${d.name}`} bg={d.name === selected ? 'var(--mantine-color-blue-light)' : undefined}>
                <Table.Td fw={600}>{d.name}</Table.Td>
                <Table.Td>{fmtNumber(d.accounts)}</Table.Td>
                <Table.Td>{d.catch_all ?? <Text c="dimmed">{t('domains.catchAllNone')}</Text>}</Table.Td>
                <Table.Td>
                  <Group gap="xs" justify="flex-end">
                    <Button size="xs" variant="light" onClick={() => setSelected(d.name === selected ? null : d.name)}>
                      {t('domains.dnsAndCatchAll')}
                    </Button>
                    <RemoveButton label={t('domains.removeNamed', { name: d.name })} onClick={() => setRemoving(d.name)} />
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {current && (
        <Card withBorder>
          <Title order={4} mb="sm">
            {t('domains.detailsTitle', { name: current.name })}
          </Title>
          <Stack gap="xl">
            <CatchAll key={current.name + (current.catch_all ?? '')} domain={current} onSaved={() => void domains.reload()} />
            <div>
              <Title order={5} mb="xs">
                {t('dns.title')}
              </Title>
              <DnsRecords domain={current.name} />
            </div>
          </Stack>
        </Card>
      )}
      <Confirm
        opened={!!removing}
        title={t('domains.removeTitle')}
        text={t('domains.removeText', { name: removing ?? '' })}
        confirmLabel={t('common.remove')}
        onConfirm={() => void remove()}
        onClose={() => setRemoving(null)}
        busy={busy}
      />
    </Stack>
  );
}
