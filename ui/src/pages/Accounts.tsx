/**
 * Mailboxes and addresses: accounts (with storage use, on/off, password and
 * size limit), aliases and distribution lists, each on its own tab.
 */
import {
  Button,
  Card,
  Group,
  Modal,
  NumberInput,
  PasswordInput,
  Progress,
  Stack,
  Switch,
  Table,
  Tabs,
  Text,
  TextInput,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconKey, IconPlus } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router';
import { api, seg } from '../api/client';
import type { AccountInfo } from '../api/types';
import { Confirm } from '../components/Confirm';
import { ErrorAlert, PageHeader, RemoveButton, SaveCancel, useAction, useErrorToast } from '../components/common';
import { fmtBytes } from '../format';
import { useLoad } from '../useLoad';
import { Aliases } from './Aliases';
import { Lists } from './Lists';

const MB = 1024 * 1024;

/** Form to create a mailbox; used here and in the wizard. */
export function AddAccountForm({ onAdded, domain }: { onAdded: (a: AccountInfo) => void; domain?: string }) {
  const { t } = useTranslation();
  const [address, setAddress] = useState('');
  const [password, setPassword] = useState('');
  const [quota, setQuota] = useState<number | string>(0);
  const { busy, error, run } = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    await run(async () => {
      let addr = address.trim();
      if (domain && !addr.includes('@')) addr = `${addr}@${domain}`;
      const a = await api<AccountInfo>('POST', '/accounts', {
        address: addr,
        password,
        quota_bytes: Math.round(Number(quota || 0) * MB),
      });
      setAddress('');
      setPassword('');
      onAdded(a);
    });
  };
  return (
    <form onSubmit={submit} aria-label={t('accounts.addTitle')} data-testid="add-account-form">
      <Group align="flex-start">
        <TextInput
          label={t('accounts.address')}
          description={domain ? t('accounts.addressHelpDomain', { domain }) : t('accounts.addressHelp')}
          placeholder={domain ? `alice@${domain}` : 'alice@example.com'}
          value={address}
          onChange={(e) => setAddress(e.currentTarget.value)}
          error={error}
          required
          w={280}
          data-testid="account-address"
        />
        <PasswordInput
          label={t('accounts.password')}
          description={t('accounts.passwordHelp')}
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
          required
          w={220}
          data-testid="account-password"
        />
        <NumberInput
          label={t('accounts.quotaMb')}
          description={t('accounts.quotaHelp')}
          value={quota}
          onChange={setQuota}
          min={0}
          w={180}
          data-testid="account-quota"
        />
        <Button type="submit" mt={46} loading={busy} leftSection={<IconPlus size={16} />} data-testid="account-submit">
          {t('accounts.add')}
        </Button>
      </Group>
    </form>
  );
}

function QuotaBar({ a }: { a: AccountInfo }) {
  const { t } = useTranslation();
  if (!a.quota_bytes) {
    return <Text size="sm">{t('accounts.usedUnlimited', { used: fmtBytes(a.used_bytes) })}</Text>;
  }
  const pct = Math.min(100, (a.used_bytes / a.quota_bytes) * 100);
  return (
    <Stack gap={2} w={200}>
      <Progress value={pct} color={pct > 90 ? 'red' : pct > 75 ? 'yellow' : 'blue'} aria-label={t('accounts.quotaUse')} />
      <Text size="xs">{t('accounts.usedOf', { used: fmtBytes(a.used_bytes), quota: fmtBytes(a.quota_bytes) })}</Text>
    </Stack>
  );
}

function EditAccount({ account, onClose, onSaved }: { account: AccountInfo; onClose: () => void; onSaved: () => void }) {
  const { t } = useTranslation();
  const [password, setPassword] = useState('');
  const [quota, setQuota] = useState<number | string>(Math.round(account.quota_bytes / MB));
  const { busy, error, run } = useAction();
  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    if (password) body.password = password;
    const q = Math.round(Number(quota || 0) * MB);
    if (q !== account.quota_bytes) body.quota_bytes = q;
    await run(async () => {
      if (Object.keys(body).length) await api('PATCH', `/accounts/${seg(account.address)}`, body);
      notifications.show({ color: 'green', message: t('common.saved') });
      onSaved();
    });
  };
  return (
    <Modal opened onClose={onClose} title={t('accounts.editTitle', { address: account.address })} centered>
      <form onSubmit={save}>
        <Stack>
          <PasswordInput
            label={t('accounts.newPassword')}
            description={t('accounts.newPasswordHelp')}
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            data-testid="edit-password"
          />
          <NumberInput label={t('accounts.quotaMb')} description={t('accounts.quotaHelp')} value={quota} onChange={setQuota} min={0} data-testid="edit-quota" />
          {error && (
            <Text c="red" role="alert">
              {error}
            </Text>
          )}
          <SaveCancel onCancel={onClose} busy={busy} saveTestid="edit-save" />
        </Stack>
      </form>
    </Modal>
  );
}

function AccountsTab() {
  const { t } = useTranslation();
  const showError = useErrorToast();
  const accounts = useLoad(() => api<AccountInfo[]>('GET', '/accounts'));
  const [editing, setEditing] = useState<AccountInfo | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const setEnabled = async (a: AccountInfo, enabled: boolean) => {
    try {
      await api('PATCH', `/accounts/${seg(a.address)}`, { enabled });
      await accounts.reload();
    } catch (e) {
      showError(e);
    }
  };
  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    try {
      await api('DELETE', `/accounts/${seg(removing)}`);
      setRemoving(null);
      await accounts.reload();
    } catch (e) {
      showError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack>
      <Card withBorder>
        <AddAccountForm onAdded={() => void accounts.reload()} />
      </Card>
      <ErrorAlert error={accounts.error} />
      {accounts.data && accounts.data.length === 0 && <Text c="dimmed">{t('accounts.empty')}</Text>}
      {accounts.data && accounts.data.length > 0 && (
        <Table data-testid="accounts-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('accounts.address')}</Table.Th>
              <Table.Th>{t('accounts.storage')}</Table.Th>
              <Table.Th>{t('accounts.enabled')}</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {accounts.data.map((a) => (
              <Table.Tr key={a.address} data-testid={`account-${a.address}`}>
                <Table.Td fw={600}>
                  {a.address}
                  {!a.has_password && (
                    <Text size="xs" c="orange">
                      {t('accounts.noPassword')}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <QuotaBar a={a} />
                </Table.Td>
                <Table.Td>
                  <Switch
                    checked={a.enabled}
                    onChange={(e) => void setEnabled(a, e.currentTarget.checked)}
                    aria-label={t('accounts.enabledFor', { address: a.address })}
                    label={a.enabled ? t('accounts.on') : t('accounts.off')}
                    data-testid={`account-enabled-${a.address}`}
                  />
                </Table.Td>
                <Table.Td>
                  <Group gap="xs" justify="flex-end">
                    <Button
                      size="xs"
                      variant="light"
                      leftSection={<IconKey size={14} />}
                      onClick={() => setEditing(a)}
                      aria-label={t('accounts.editNamed', { address: a.address })}
                    >
                      {t('accounts.edit')}
                    </Button>
                    <RemoveButton label={t('accounts.removeNamed', { address: a.address })} onClick={() => setRemoving(a.address)} />
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {editing && (
        <EditAccount
          account={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            void accounts.reload();
          }}
        />
      )}
      <Confirm
        opened={!!removing}
        title={t('accounts.removeTitle')}
        text={t('accounts.removeText', { address: removing ?? '' })}
        confirmLabel={t('common.remove')}
        onConfirm={() => void remove()}
        onClose={() => setRemoving(null)}
        busy={busy}
      />
    </Stack>
  );
}

export function Accounts() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const tab = params.get('tab') ?? 'accounts';
  return (
    <Stack>
      <PageHeader title={t('accounts.title')} intro={t('accounts.intro')} />
      <Tabs value={tab} onChange={(v) => setParams(v && v !== 'accounts' ? { tab: v } : {})} keepMounted={false}>
        <Tabs.List mb="md">
          <Tabs.Tab value="accounts" data-testid="tab-accounts">
            {t('accounts.tabAccounts')}
          </Tabs.Tab>
          <Tabs.Tab value="aliases" data-testid="tab-aliases">
            {t('aliases.tab')}
          </Tabs.Tab>
          <Tabs.Tab value="lists" data-testid="tab-lists">
            {t('lists.tab')}
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="accounts">
          <AccountsTab />
        </Tabs.Panel>
        <Tabs.Panel value="aliases">
          <Aliases />
        </Tabs.Panel>
        <Tabs.Panel value="lists">
          <Lists />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
