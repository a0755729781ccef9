/**
 * Distribution lists: one address that sends a copy to every member.
 * Create and remove lists, add and remove members.
 */
import { Badge, Button, Card, CloseButton, Group, Stack, Table, Text, TextInput } from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, seg } from '../api/client';
import type { ListInfo } from '../api/types';
import { ErrorAlert, RemoveButton, useAction, useErrorToast } from '../components/common';
import { useLoad } from '../useLoad';

function AddMember({ list, onAdded }: { list: string; onAdded: () => void }) {
  const { t } = useTranslation();
  const [member, setMember] = useState('');
  const { error, run } = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    await run(async () => {
      await api('POST', `/lists/${seg(list)}/members`, { address: member.trim() });
      setMember('');
      onAdded();
    });
  };
  return (
    <form onSubmit={submit}>
      <Group gap="xs" align="flex-start">
        <TextInput
          size="xs"
          placeholder="bob@example.com"
          value={member}
          onChange={(e) => setMember(e.currentTarget.value)}
          error={error}
          aria-label={t('lists.memberFor', { list })}
          required
        />
        <Button size="xs" type="submit" variant="light">
          {t('lists.addMember')}
        </Button>
      </Group>
    </form>
  );
}

export function Lists() {
  const { t } = useTranslation();
  const showError = useErrorToast();
  const lists = useLoad(() => api<ListInfo[]>('GET', '/lists'));
  const [address, setAddress] = useState('');
  const { error, run } = useAction();

  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    await run(async () => {
      await api('POST', '/lists', { address: address.trim() });
      setAddress('');
      await lists.reload();
    });
  };
  const act = async (method: string, path: string) => {
    try {
      await api(method, path);
      await lists.reload();
    } catch (e) {
      showError(e);
    }
  };

  return (
    <Stack>
      <Text c="dimmed">{t('lists.intro')}</Text>
      <Card withBorder>
        <form onSubmit={create} aria-label={t('lists.addTitle')} data-testid="add-list-form">
          <Group align="flex-start">
            <TextInput
              label={t('lists.address')}
              placeholder="team@example.com"
              value={address}
              onChange={(e) => setAddress(e.currentTarget.value)}
              error={error}
              required
              w={300}
              data-testid="list-address"
            />
            <Button type="submit" mt={25} leftSection={<IconPlus size={16} />} data-testid="list-submit">
              {t('lists.add')}
            </Button>
          </Group>
        </form>
      </Card>
      <ErrorAlert error={lists.error} />
      {lists.data && lists.data.length === 0 && <Text c="dimmed">{t('lists.empty')}</Text>}
      {lists.data && lists.data.length > 0 && (
        <Table data-testid="lists-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('lists.address')}</Table.Th>
              <Table.Th>{t('lists.members')}</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {lists.data.map((l) => (
              <Table.Tr key={l.address}>
                <Table.Td fw={600}>{l.address}</Table.Td>
                <Table.Td>
                  <Stack gap="xs">
                    <Group gap={6}>
                      {l.members.length === 0 && (
                        <Text size="sm" c="dimmed">
                          {t('lists.noMembers')}
                        </Text>
                      )}
                      {l.members.map((m) => (
                        <Badge
                          key={m}
                          variant="light"
                          tt="none"
                          rightSection={
                            <CloseButton
                              size="xs"
                              onClick={() => void act('DELETE', `/lists/${seg(l.address)}/members/${seg(m)}`)}
                              aria-label={t('lists.removeMember', { member: m })}
                            />
                          }
                        >
                          {m}
                        </Badge>
                      ))}
                    </Group>
                    <AddMember list={l.address} onAdded={() => void lists.reload()} />
                  </Stack>
                </Table.Td>
                <Table.Td>
                  <RemoveButton label={t('lists.removeNamed', { address: l.address })} onClick={() => void act('DELETE', `/lists/${seg(l.address)}`)} />
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
