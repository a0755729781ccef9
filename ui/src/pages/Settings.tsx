/**
 * Settings: every engine setting, grouped by what it is about, each with a
 * plain explanation, its default, a save button, the engine's own error
 * message when a value is refused, and a note when a change only takes effect
 * after the server restarts. Also the ports in use and the certificate's expiry.
 */
import { Alert, Badge, Button, Card, Group, Select, Stack, Switch, Table, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconRefresh } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, seg } from '../api/client';
import type { Setting, Status } from '../api/types';
import { ErrorAlert, PageHeader, useAction } from '../components/common';
import { useLoad } from '../useLoad';
import { CertificatePanel } from '../components/Certificate';

export const GROUPS: { id: string; keys: string[] }[] = [
  { id: 'server', keys: ['hostname', 'default_domain'] },
  {
    id: 'ports',
    keys: ['max_connections', 'max_connections_per_ip', 'command_timeout_secs', 'data_timeout_secs', 'imap_idle_timeout', 'pop3_timeout_secs', 'imap_sessions_per_account'],
  },
  { id: 'limits', keys: ['max_message_size', 'max_recipients', 'max_line_length', 'max_errors', 'max_hops', 'imap_max_line_length', 'imap_max_literal'] },
  { id: 'security', keys: ['trusted_networks', 'plaintext_auth_on_trusted', 'sender_login_match', 'auth_fail_window_secs', 'auth_fail_block_after'] },
  {
    id: 'delivery',
    keys: [
      'queue_paused',
      'retry_schedule',
      'max_queue_lifetime',
      'delay_warning_after',
      'outbound_tls',
      'tls_ca_file',
      'dns_servers',
      'remote_smtp_port',
      'queue_poll_secs',
      'max_outbound_connections',
      'max_connections_per_domain',
    ],
  },
  { id: 'warnings', keys: ['disk_low_warning_mb', 'cert_expiry_warning_days'] },
  { id: 'remote', keys: ['admin_remote_access'] },
];

const CHOICES: Record<string, string[]> = { outbound_tls: ['none', 'opportunistic', 'required', 'verified'] };
const isBool = (s: Setting) => s.default === 'true' || s.default === 'false';

export function SettingRow({ setting, onSaved }: { setting: Setting; onSaved: (s: Setting) => void }) {
  const { t } = useTranslation();
  const [value, setValue] = useState(setting.value);
  const { busy, error, run } = useAction();
  const changed = value !== setting.value;

  const save = async (v: string) => {
    await run(async () => {
      const s = await api<Setting>('PUT', `/settings/${seg(setting.key)}`, { value: v });
      setValue(s.value);
      onSaved(s);
      notifications.show({
        color: s.applies === 'restart' ? 'yellow' : 'green',
        message: s.applies === 'restart' ? t('settings.savedRestart') : t('settings.savedNow'),
      });
    });
  };

  const label = t(`settingNames.${setting.key}`, { defaultValue: setting.key });
  const help = t(`settingHelp.${setting.key}`, { defaultValue: setting.help });
  const description = (
    <>
      {help}{' '}
      <Text span size="xs" c="dimmed">
        {setting.default !== '' ? t('settings.default', { value: setting.default }) : t('settings.noDefault')}
      </Text>
    </>
  );
  const restartBadge = setting.applies === 'restart' && (
    <Badge color="yellow" variant="light" size="sm" title={t('settings.restartTitle')}>
      {t('settings.afterRestart')}
    </Badge>
  );

  if (isBool(setting)) {
    return (
      <Group justify="space-between" align="flex-start" wrap="nowrap" data-testid={`setting-row-${setting.key}`}>
        <Switch
          label={label}
          description={description}
          checked={value === 'true'}
          disabled={busy}
          error={error}
          onChange={(e) => {
            const v = e.currentTarget.checked ? 'true' : 'false';
            setValue(v);
            void save(v);
          }}
          data-testid={`setting-${setting.key}`}
        />
        {restartBadge}
      </Group>
    );
  }

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void save(value);
      }}
      data-testid={`setting-row-${setting.key}`}
    >
      <Group align="flex-start" wrap="nowrap">
        {CHOICES[setting.key] ? (
          <Select
            label={label}
            description={description}
            data={CHOICES[setting.key].map((c) => ({ value: c, label: t(`settings.choices.${setting.key}.${c}`, { defaultValue: c }) }))}
            value={value}
            onChange={(v) => v && setValue(v)}
            error={error}
            style={{ flex: 1 }}
            data-testid={`setting-${setting.key}`}
          />
        ) : (
          <TextInput
            label={label}
            description={description}
            value={value}
            onChange={(e) => setValue(e.currentTarget.value)}
            error={error}
            style={{ flex: 1 }}
            data-testid={`setting-${setting.key}`}
          />
        )}
        <Stack gap={4} mt={22} align="flex-end">
          <Button type="submit" disabled={!changed} loading={busy} aria-label={t('settings.saveNamed', { name: label })} data-testid={`setting-save-${setting.key}`}>
            {t('common.save')}
          </Button>
          {restartBadge}
        </Stack>
      </Group>
    </form>
  );
}

export function Settings() {
  const { t } = useTranslation();
  const settings = useLoad(() => api<Setting[]>('GET', '/settings'));
  const status = useLoad(() => api<Status>('GET', '/status'));

  const byKey = new Map((settings.data ?? []).map((s) => [s.key, s]));
  const known = new Set(GROUPS.flatMap((g) => g.keys));
  const others = (settings.data ?? []).filter((s) => !known.has(s.key)).map((s) => s.key);
  const groups = others.length ? [...GROUPS, { id: 'other', keys: others }] : GROUPS;

  const onSaved = (s: Setting) => {
    if (settings.data) settings.setData(settings.data.map((x) => (x.key === s.key ? s : x)));
    void status.reload();
  };

  return (
    <Stack>
      <PageHeader title={t('settings.title')} intro={t('settings.intro')} />
      <ErrorAlert error={settings.error} />
      {status.data && status.data.restart_needed.length > 0 && (
        <Alert color="yellow" icon={<IconRefresh />} title={t('dashboard.restartNeeded')} data-testid="restart-needed">
          {t('dashboard.restartNeededText', {
            keys: status.data.restart_needed.map((k) => t(`settingNames.${k}`, { defaultValue: k })).join(', '),
          })}
        </Alert>
      )}
      {groups.map((g) => (
        <Card withBorder key={g.id} data-testid={`settings-group-${g.id}`}>
          <Title order={4}>{t(`settings.groups.${g.id}.title`)}</Title>
          <Text size="sm" c="dimmed" mb="md">
            {t(`settings.groups.${g.id}.intro`)}
          </Text>
          {g.id === 'ports' && status.data && (
            <Table mb="md" data-testid="settings-listeners">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('dashboard.service')}</Table.Th>
                  <Table.Th>{t('dashboard.address')}</Table.Th>
                  <Table.Th>{t('dashboard.state')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {status.data.listeners.map((l) => (
                  <Table.Tr key={l.name}>
                    <Table.Td>{t(`listeners.${l.name}`, { defaultValue: l.label })}</Table.Td>
                    <Table.Td ff="monospace">{l.address}</Table.Td>
                    <Table.Td>
                      <Badge color={l.running ? 'green' : 'red'}>{l.running ? t('dashboard.running') : t('dashboard.stopped')}</Badge>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
          <Stack gap="lg">
            {g.keys
              .map((k) => byKey.get(k))
              .filter((s): s is Setting => !!s)
              .map((s) => (
                <SettingRow key={s.key} setting={s} onSaved={onSaved} />
              ))}
          </Stack>
        </Card>
      ))}
      <Card withBorder data-testid="settings-group-certificate">
        <Title order={4}>{t('settings.certificate')}</Title>
        <Text size="sm" c="dimmed" mb="md">
          {t('settings.certificateIntro')}
        </Text>
        {status.data && <CertificatePanel hostname={status.data.hostname} onChanged={() => void status.reload()} />}
      </Card>
    </Stack>
  );
}
