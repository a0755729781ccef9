/**
 * Aliases: extra addresses whose mail goes to one or more other addresses
 * (e.g. info@ → alice@ and bob@). Add, add targets, remove a target or the
 * whole alias.
 */
import { Badge, Button, Card, CloseButton, Group, Stack, Table, Text, TextInput } from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, query, seg } from '../api/client';
import type { AliasInfo } from '../api/types';
import { ErrorAlert, RemoveButton, useAction, useErrorToast } from '../components/common';
import { useLoad } from '../useLoad';

export function Aliases() {
  const { t } = useTranslation();
  const showError = useErrorToast();
  const aliases = useLoad(() => api<AliasInfo[]>('GET', '/aliases'));
  const [address, setAddress] = useState('');
  const [targets, setTargets] = useState('');
  const { busy, error, run } = useAction();

  const add = async (e: React.FormEvent) => {
    e.preventDefault();
    await run(async () => {
      await api('POST', '/aliases', {
        address: address.trim(),
        targets: targets
          .split(/[,;\s]+/)
          .map((s) => s.trim())
          .filter(Boolean),
      });
      setAddress('');
      setTargets('');
      await aliases.reload();
    });
  };

  const remove = async (alias: string, target?: string) => {
    try {
      await api('DELETE', `/aliases/${seg(alias)}${query({ target })}`);
      await aliases.reload();
    } catch (e) {
      showError(e);
    }
  };

  return (
    <Stack>
      <Text c="dimmed">{t('aliases.intro')}</Text>
      <Card withBorder>
        <form onSubmit={add} aria-label={t('aliases.addTitle')} data-testid="add-alias-form">
          <Group align="flex-start">
            <TextInput
              label={t('aliases.address')}
              placeholder="info@example.com"
              value={address}
              onChange={(e) => setAddress(e.currentTarget.value)}
              error={error}
              required
              w={260}
              data-testid="alias-address"
            />
            <TextInput
              label={t('aliases.targets')}
              description={t('aliases.targetsHelp')}
              placeholder="alice@example.com, bob@example.com"
              value={targets}
              onChange={(e) => setTargets(e.currentTarget.value)}
              required
              w={360}
              data-testid="alias-targets"
            />
            <Button type="submit" mt={46} loading={busy} leftSection={<IconPlus size={16} />} data-testid="alias-submit">
              {t('aliases.add')}
            </Button>
          </Group>
        </form>
      </Card>
      <ErrorAlert error={aliases.error} />
      {aliases.data && aliases.data.length === 0 && <Text c="dimmed">{t('aliases.empty')}</Text>}
      {aliases.data && aliases.data.length > 0 && (
        <Table data-testid="aliases-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('aliases.address')}</Table.Th>
              <Table.Th>{t('aliases.goesTo')}</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {aliases.data.map((a) => (
              <Table.Tr key={a.address}>
                <Table.Td fw={600}>{a.address}</Table.Td>
                <Table.Td>
                  <Group gap={6}>
                    {a.targets.map((tg) => (
                      <Badge
                        key={tg}
                        variant="light"
                        tt="none"
                        rightSection={
                          a.targets.length > 1 ? (
                            <CloseButton size="xs" onClick={() => void remove(a.address, tg)} aria-label={t('aliases.removeTarget', { target: tg })} />
                          ) : undefined
                        }
                      >
                        {tg}
                      </Badge>
                    ))}
                  </Group>
                </Table.Td>
                <Table.Td>
                  <RemoveButton label={t('aliases.removeNamed', { address: a.address })} onClick={() => void remove(a.address)} />
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
