/**
 * IP filter: which networks may connect, to which services, and which may
 * send mail onwards without logging in (relay). Rules are looked at in order
 * of priority (lowest number first) and the first one that matches decides.
 */
import {
  Alert,
  Badge,
  Button,
  Checkbox,
  Group,
  Modal,
  NumberInput,
  SegmentedControl,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { IconInfoCircle, IconPencil, IconPlus } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, seg } from '../api/client';
import type { IpRange, IpRangeInput } from '../api/types';
import { Confirm } from '../components/Confirm';
import { ErrorAlert, PageHeader, RemoveButton, SaveCancel, useAction, useErrorToast } from '../components/common';
import { useLoad } from '../useLoad';

export const PROTOCOLS = ['smtp', 'submission', 'pop3', 'imap', 'admin'] as const;

export function RuleForm({
  rule,
  onClose,
  onSaved,
}: {
  rule: IpRange | null; // null: a new rule
  onClose: () => void;
  onSaved: () => void;
}) {
  const { t } = useTranslation();
  const [network, setNetwork] = useState(rule?.network ?? '');
  const [action, setAction] = useState(rule?.action ?? 'allow');
  const initialProtocols = rule && rule.protocols !== 'all' ? rule.protocols.split(',').map((s) => s.trim()) : [];
  const [all, setAll] = useState(!rule || rule.protocols === 'all');
  const [protocols, setProtocols] = useState<string[]>(initialProtocols);
  const [relay, setRelay] = useState(rule?.relay ?? false);
  const [priority, setPriority] = useState<number | string>(rule?.priority ?? 100);
  const [note, setNote] = useState(rule?.note ?? '');
  const { busy, error, run } = useAction();

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    const body: IpRangeInput = {
      network: network.trim(),
      action,
      protocols: all || protocols.length === 0 ? 'all' : protocols.join(','),
      relay: action === 'allow' ? relay : false,
      priority: priority === '' ? null : Number(priority),
      note: note.trim(),
    };
    await run(async () => {
      if (rule) await api('PUT', `/ip-ranges/${seg(rule.id)}`, body);
      else await api('POST', '/ip-ranges', body);
      onSaved();
    });
  };

  return (
    <Modal opened onClose={onClose} title={rule ? t('ipFilter.editTitle') : t('ipFilter.addTitle')} centered size="lg">
      <form onSubmit={save} aria-label={rule ? t('ipFilter.editTitle') : t('ipFilter.addTitle')} data-testid="ip-rule-form">
        <Stack>
          <TextInput
            label={t('ipFilter.network')}
            description={t('ipFilter.networkHelp')}
            placeholder="192.168.1.0/24"
            value={network}
            onChange={(e) => setNetwork(e.currentTarget.value)}
            required
            data-testid="ip-network"
          />
          <Stack gap={4}>
            <Text size="sm" fw={500}>
              {t('ipFilter.action')}
            </Text>
            <SegmentedControl
              value={action}
              onChange={setAction}
              aria-label={t('ipFilter.action')}
              data={[
                { value: 'allow', label: t('ipFilter.allow') },
                { value: 'deny', label: t('ipFilter.deny') },
              ]}
              data-testid="ip-action"
            />
          </Stack>
          <Stack gap={4}>
            <Text size="sm" fw={500}>
              {t('ipFilter.protocols')}
            </Text>
            <Checkbox label={t('ipFilter.allProtocols')} checked={all} onChange={(e) => setAll(e.currentTarget.checked)} data-testid="ip-all" />
            {!all && (
              <Checkbox.Group value={protocols} onChange={setProtocols}>
                <Group>
                  {PROTOCOLS.map((p) => (
                    <Checkbox key={p} value={p} label={t(`ipFilter.proto.${p}`)} />
                  ))}
                </Group>
              </Checkbox.Group>
            )}
          </Stack>
          <Switch
            label={t('ipFilter.relay')}
            description={t('ipFilter.relayHelp')}
            checked={action === 'allow' && relay}
            disabled={action !== 'allow'}
            onChange={(e) => setRelay(e.currentTarget.checked)}
            data-testid="ip-relay"
          />
          <NumberInput
            label={t('ipFilter.priority')}
            description={t('ipFilter.priorityHelp')}
            value={priority}
            onChange={setPriority}
            data-testid="ip-priority"
          />
          <TextInput label={t('ipFilter.note')} value={note} onChange={(e) => setNote(e.currentTarget.value)} data-testid="ip-note" />
          {error && (
            <Alert color="red" role="alert" data-testid="ip-error">
              {error}
            </Alert>
          )}
          <SaveCancel onCancel={onClose} busy={busy} saveTestid="ip-save" />
        </Stack>
      </form>
    </Modal>
  );
}

export function IpFilter() {
  const { t } = useTranslation();
  const showError = useErrorToast();
  const rules = useLoad(() => api<IpRange[]>('GET', '/ip-ranges'));
  const [editing, setEditing] = useState<IpRange | 'new' | null>(null);
  const [removing, setRemoving] = useState<IpRange | null>(null);

  const sorted = [...(rules.data ?? [])].sort((a, b) => a.priority - b.priority || a.id - b.id);

  const remove = async () => {
    if (!removing) return;
    try {
      await api('DELETE', `/ip-ranges/${seg(removing.id)}`);
      setRemoving(null);
      await rules.reload();
    } catch (e) {
      showError(e);
    }
  };

  const protoText = (p: string) =>
    p === 'all'
      ? t('ipFilter.allProtocols')
      : p
          .split(',')
          .map((x) => t(`ipFilter.proto.${x.trim()}`, { defaultValue: x.trim() }))
          .join(', ');

  return (
    <Stack>
      <PageHeader
        title={t('ipFilter.title')}
        intro={t('ipFilter.intro')}
        actions={
          <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing('new')} data-testid="ip-add">
            {t('ipFilter.add')}
          </Button>
        }
      />
      <Alert icon={<IconInfoCircle />} color="blue">
        <Text>{t('ipFilter.firstMatch')}</Text>
        <Text mt={4}>{t('ipFilter.relayExplained')}</Text>
      </Alert>
      <ErrorAlert error={rules.error} />
      <Table data-testid="ip-table" highlightOnHover>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('ipFilter.priority')}</Table.Th>
            <Table.Th>{t('ipFilter.network')}</Table.Th>
            <Table.Th>{t('ipFilter.protocols')}</Table.Th>
            <Table.Th>{t('ipFilter.action')}</Table.Th>
            <Table.Th>{t('ipFilter.relayShort')}</Table.Th>
            <Table.Th>{t('ipFilter.note')}</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {sorted.map((r) => (
            <Table.Tr key={r.id} data-testid={`ip-rule-${r.id}`}>
              <Table.Td>{r.priority}</Table.Td>
              <Table.Td ff="monospace">{r.network}</Table.Td>
              <Table.Td>{protoText(r.protocols)}</Table.Td>
              <Table.Td>
                <Badge color={r.action === 'deny' ? 'red' : 'green'}>{r.action === 'deny' ? t('ipFilter.deny') : t('ipFilter.allow')}</Badge>
              </Table.Td>
              <Table.Td>{r.relay ? t('common.yes') : t('common.no')}</Table.Td>
              <Table.Td>{r.note}</Table.Td>
              <Table.Td>
                <Group gap="xs" justify="flex-end" wrap="nowrap">
                  <Button
                    size="xs"
                    variant="light"
                    leftSection={<IconPencil size={14} />}
                    onClick={() => setEditing(r)}
                    aria-label={t('ipFilter.editNamed', { network: r.network })}
                  >
                    {t('common.edit')}
                  </Button>
                  <RemoveButton label={t('ipFilter.removeNamed', { network: r.network })} onClick={() => setRemoving(r)} />
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {editing && (
        <RuleForm
          rule={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            void rules.reload();
          }}
        />
      )}
      <Confirm
        opened={!!removing}
        title={t('ipFilter.removeTitle')}
        text={t('ipFilter.removeText', { network: removing?.network ?? '' })}
        confirmLabel={t('common.remove')}
        onConfirm={() => void remove()}
        onClose={() => setRemoving(null)}
      />
    </Stack>
  );
}
