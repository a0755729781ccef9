/**
 * The DNS records one domain needs, with copy buttons, and a "Check now"
 * button that looks them up live and marks each record green (right) or red
 * (missing, wrong, or the lookup failed) with the engine's explanation.
 * Used on the Domains page and in the setup wizard.
 */
import { ActionIcon, Alert, Badge, Button, CopyButton, Group, Stack, Table, Text, Tooltip } from '@mantine/core';
import { IconCheck, IconCopy, IconSearch } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, seg } from '../api/client';
import type { CheckedRecord, DomainCheck, DomainRecords } from '../api/types';
import { useLoad } from '../useLoad';
import { ErrorAlert } from './common';

function Copy({ value, what }: { value: string; what: string }) {
  const { t } = useTranslation();
  return (
    <CopyButton value={value} timeout={1500}>
      {({ copied, copy }) => (
        <Tooltip label={copied ? t('common.copied') : t('common.copy')}>
          <ActionIcon variant="subtle" color={copied ? 'teal' : 'gray'} onClick={copy} aria-label={t('dns.copyWhat', { what })}>
            {copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
          </ActionIcon>
        </Tooltip>
      )}
    </CopyButton>
  );
}

const key = (r: { type: string; name: string; value: string }) => `${r.type} ${r.name} ${r.value}`;

export function DnsRecords({ domain }: { domain: string }) {
  const { t } = useTranslation();
  const records = useLoad(() => api<DomainRecords>('GET', `/domains/${seg(domain)}/dns`), [domain]);
  const [check, setCheck] = useState<DomainCheck>();
  const [checking, setChecking] = useState(false);
  const [checkError, setCheckError] = useState<unknown>();

  const runCheck = async () => {
    setChecking(true);
    setCheckError(undefined);
    try {
      setCheck(await api<DomainCheck>('GET', `/domains/${seg(domain)}/dns/check`));
    } catch (e) {
      setCheckError(e);
    } finally {
      setChecking(false);
    }
  };

  const checked = new Map<string, CheckedRecord>((check?.records ?? []).map((r) => [key(r), r]));

  return (
    <Stack data-testid={`dns-${domain}`}>
      <Group justify="space-between">
        <Text size="sm" c="dimmed" maw={640}>
          {t('dns.intro', { host: records.data?.hostname ?? '' })}
        </Text>
        <Button leftSection={<IconSearch size={16} />} onClick={runCheck} loading={checking} data-testid="dns-check">
          {t('dns.checkNow')}
        </Button>
      </Group>
      <ErrorAlert error={records.error ?? checkError} />
      {check && (
        <Alert color={check.ok ? 'green' : 'red'} data-testid="dns-check-result" role="status">
          {check.ok ? t('dns.allOk') : t('dns.notOk')}
        </Alert>
      )}
      {records.data && (
        <Table.ScrollContainer minWidth={700}>
          <Table verticalSpacing="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th w={100}>{t('dns.type')}</Table.Th>
                <Table.Th>{t('dns.name')}</Table.Th>
                <Table.Th>{t('dns.value')}</Table.Th>
                <Table.Th miw={220}>{t('dns.status')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {records.data.records.map((r) => {
                const c = checked.get(key(r));
                return (
                  <Table.Tr key={key(r)} data-testid={`dns-record-${r.kind}`}>
                    <Table.Td>
                      <Stack gap={2}>
                        <Badge variant="outline" style={{ overflow: 'visible' }} miw={64}>
                          {r.type}
                        </Badge>
                        <Text size="xs" c="dimmed">
                          {r.required ? t('dns.required') : t('dns.optional')}
                        </Text>
                      </Stack>
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4} wrap="nowrap">
                        <Text ff="monospace" size="sm">
                          {r.name}
                        </Text>
                        <Copy value={r.name} what={t('dns.name')} />
                      </Group>
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4} wrap="nowrap" align="flex-start">
                        <Text ff="monospace" size="sm" style={{ wordBreak: 'break-all' }}>
                          {r.value}
                        </Text>
                        <Copy value={r.value} what={t('dns.value')} />
                      </Group>
                      <Text size="xs" c="dimmed" mt={4}>
                        {r.purpose}
                      </Text>
                    </Table.Td>
                    <Table.Td miw={220} maw={320}>
                      {c ? (
                        <Stack gap={4}>
                          <Badge color={c.status === 'ok' ? 'green' : 'red'} data-testid={`dns-status-${r.kind}`}>
                            {t(`dns.statuses.${c.status}`)}
                          </Badge>
                          <Text size="xs">{c.detail}</Text>
                          {c.found.length > 0 && c.status !== 'ok' && (
                            <Text size="xs" c="dimmed" ff="monospace">
                              {t('dns.found')}: {c.found.join(', ')}
                            </Text>
                          )}
                        </Stack>
                      ) : (
                        <Text size="xs" c="dimmed">
                          {t('dns.notChecked')}
                        </Text>
                      )}
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}
