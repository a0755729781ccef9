/**
 * Live log: what the server is doing, newest first. Starts with the recent
 * history from /api/v1/logs and adds events from the live stream as they
 * happen. Colours by level, a search box and level/protocol filters, a pause
 * button, and a click on a message id opens that message's trace.
 */
import { Anchor, Badge, Button, Group, Select, Stack, Table, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconPlayerPause, IconPlayerPlay, IconSearch } from '@tabler/icons-react';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, query } from '../api/client';
import type { LogEntry, ServerEvent } from '../api/types';
import { TraceModal } from '../components/TraceView';
import { ErrorAlert, PageHeader } from '../components/common';
import { useEvents } from '../events';
import { fmtDateTime } from '../format';
import { useLoad } from '../useLoad';

export interface LogRow {
  time: string;
  level: string;
  protocol: string;
  message: string;
  messageId?: string;
  session?: number;
  fields: Record<string, unknown>;
}

const LEVELS = ['ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE'];
const LOG_PROTOCOLS = ['smtp', 'pop3', 'imap', 'delivery', 'api', 'engine'];

export const levelColor = (level: string) =>
  ({ ERROR: 'red', WARN: 'orange', INFO: 'blue', DEBUG: 'gray', TRACE: 'gray' })[level.toUpperCase()] ?? 'gray';

/**
 * Which protocol a live event belongs to, from the module that logged it: the
 * same rule the engine applies to its log files (so live rows and /logs
 * history filter alike).
 */
export function eventProtocol(e: ServerEvent): string {
  const p = e.fields.protocol;
  if (typeof p === 'string' && p) return p;
  const target = e.target;
  const starts = (prefix: string) => target === prefix || target.startsWith(`${prefix}::`);
  if (starts('mailroom_smtp') || starts('mailroom_engine::backend::smtp')) return 'smtp';
  if (starts('mailroom_pop3')) return 'pop3';
  if (starts('mailroom_imap') || starts('mailroom_engine::imap_backend')) return 'imap';
  if (starts('mailroom_outbound') || starts('mailroom_dkim') || starts('mailroom_engine::delivery')) return 'delivery';
  if (starts('mailroom_engine::api')) return 'api';
  return 'engine';
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined;
}

export function fromEvent(e: ServerEvent): LogRow {
  const session = e.fields.session;
  return {
    time: e.time,
    level: e.level,
    protocol: eventProtocol(e),
    message: e.message,
    messageId: str(e.fields.message_id) ?? str(e.fields.msg_id),
    session: typeof session === 'number' ? session : undefined,
    fields: e.fields,
  };
}

function fromEntry(e: LogEntry): LogRow {
  return {
    time: e.time,
    level: e.level.toUpperCase(),
    protocol: e.protocol,
    message: e.message,
    messageId: e.message_id ?? str(e.fields?.message_id),
    session: e.session ?? undefined,
    fields: e.fields ?? {},
  };
}

/** Client-side filter for live rows, matching the API's meaning (level = at least this severe). */
export function matches(row: LogRow, level: string | null, protocol: string | null, text: string): boolean {
  if (level && LEVELS.indexOf(row.level) > LEVELS.indexOf(level)) return false;
  if (protocol && row.protocol !== protocol) return false;
  if (text) {
    const hay = `${row.message} ${row.messageId ?? ''} ${JSON.stringify(row.fields)}`.toLowerCase();
    if (!hay.includes(text.toLowerCase())) return false;
  }
  return true;
}

function fieldsText(f: Record<string, unknown>): string {
  return Object.entries(f)
    .filter(([k]) => k !== 'message_id')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

export function LiveLog() {
  const { t } = useTranslation();
  const { events, connected } = useEvents();
  const [text, setText] = useState('');
  const [search] = useDebouncedValue(text.trim(), 400);
  const [level, setLevel] = useState<string | null>(null);
  const [protocol, setProtocol] = useState<string | null>(null);
  const [paused, setPaused] = useState<ServerEvent[] | null>(null);
  const [trace, setTrace] = useState<string | null>(null);

  const history = useLoad(
    () =>
      api<LogEntry[]>(
        'GET',
        `/logs${query({ level: level?.toLowerCase(), protocol, text: search, limit: 300 })}`,
      ),
    [level, protocol, search],
  );

  const rows = useMemo(() => {
    const hist = (history.data ?? []).map(fromEntry);
    const newest = hist.length ? hist[0].time : '';
    const live = (paused ?? events)
      .map(fromEvent)
      .filter((r) => r.time > newest && matches(r, level, protocol, search));
    return [...live, ...hist];
  }, [history.data, events, paused, level, protocol, search]);

  return (
    <Stack>
      <PageHeader title={t('log.title')} intro={t('log.intro')} />
      <Group align="flex-end">
        <TextInput
          label={t('log.search')}
          placeholder={t('log.searchPlaceholder')}
          leftSection={<IconSearch size={16} />}
          value={text}
          onChange={(e) => setText(e.currentTarget.value)}
          w={320}
          data-testid="log-search"
        />
        <Select
          label={t('log.level')}
          placeholder={t('log.allLevels')}
          clearable
          value={level}
          onChange={setLevel}
          data={LEVELS.slice(0, 4).map((l) => ({ value: l, label: t(`log.levelAtLeast.${l}`) }))}
          w={200}
          data-testid="log-level"
        />
        <Select
          label={t('log.protocol')}
          placeholder={t('log.allProtocols')}
          clearable
          value={protocol}
          onChange={setProtocol}
          data={LOG_PROTOCOLS.map((p) => ({ value: p, label: t(`log.protocols.${p}`) }))}
          w={200}
          data-testid="log-protocol"
        />
        {paused ? (
          <Button color="green" leftSection={<IconPlayerPlay size={16} />} onClick={() => setPaused(null)} data-testid="log-pause">
            {t('log.resume')}
          </Button>
        ) : (
          <Button variant="default" leftSection={<IconPlayerPause size={16} />} onClick={() => setPaused(events)} data-testid="log-pause">
            {t('log.pause')}
          </Button>
        )}
        <Badge color={paused ? 'yellow' : connected ? 'green' : 'gray'} size="lg" variant="light">
          {paused ? t('log.paused') : connected ? t('log.streaming') : t('log.disconnected')}
        </Badge>
      </Group>
      <ErrorAlert error={history.error} />
      {rows.length === 0 && !history.loading && <Text c="dimmed">{t('log.empty')}</Text>}
      <Table.ScrollContainer minWidth={800}>
        <Table striped verticalSpacing={4} fz="sm" data-testid="log-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th w={180}>{t('log.time')}</Table.Th>
              <Table.Th w={130}>{t('log.level')}</Table.Th>
              <Table.Th w={90}>{t('log.protocol')}</Table.Th>
              <Table.Th>{t('log.message')}</Table.Th>
              <Table.Th w={160}>{t('log.messageId')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.slice(0, 1000).map((r, i) => (
              <Table.Tr key={`${r.time}-${i}`} data-level={r.level}>
                <Table.Td>{fmtDateTime(r.time)}</Table.Td>
                <Table.Td>
                  <Badge color={levelColor(r.level)} variant={r.level === 'ERROR' ? 'filled' : 'light'}>
                    {t(`levels.${r.level}`, { defaultValue: r.level })}
                  </Badge>
                </Table.Td>
                <Table.Td>{t(`log.protocols.${r.protocol}`, { defaultValue: r.protocol })}</Table.Td>
                <Table.Td>
                  <Text size="sm" c={r.level === 'ERROR' ? 'red' : r.level === 'WARN' ? 'orange.8' : undefined}>
                    {r.message}
                  </Text>
                  <Text size="xs" c="dimmed" ff="monospace" style={{ wordBreak: 'break-all' }}>
                    {r.session !== undefined ? `session=${r.session} ` : ''}
                    {fieldsText(r.fields)}
                  </Text>
                </Table.Td>
                <Table.Td>
                  {r.messageId && (
                    <Anchor component="button" ff="monospace" size="sm" onClick={() => setTrace(r.messageId!)} aria-label={t('log.openTrace', { id: r.messageId })}>
                      {r.messageId}
                    </Anchor>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {trace && <TraceModal id={trace} onClose={() => setTrace(null)} />}
    </Stack>
  );
}
