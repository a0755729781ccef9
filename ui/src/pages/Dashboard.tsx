/**
 * Dashboard: is mail flowing? Warnings first, then each port with a start/stop
 * switch, the counters, today's totals, a 24-hour traffic chart and the
 * latest events. Refreshes when the engine reports a change.
 */
import { Alert, Badge, Card, Group, SimpleGrid, Stack, Switch, Table, Text, Title } from '@mantine/core';
import { AreaChart } from '@mantine/charts';
import { IconAlertTriangle } from '@tabler/icons-react';
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { api, query, seg } from '../api/client';
import type { ListenerChange, LogEntry, ServerEvent, StatsAnswer, StatsSummary, Status } from '../api/types';
import { ErrorAlert, PageHeader, useErrorToast } from '../components/common';
import { useEvents } from '../events';
import { fmtBytes, fmtDate, fmtHour, fmtNumber, fmtTime } from '../format';
import { useLoad } from '../useLoad';
import { levelColor } from './LiveLog';

export const CHART_METRICS = ['received', 'sent', 'delivered_local'] as const;
const TODAY_METRICS = ['received', 'sent', 'delivered_local', 'deferred', 'bounced', 'rejected', 'auth_failures'];

/** Turns the stats answer into 24 hourly points (empty hours are zero). */
export function hourlyPoints(stats: StatsAnswer | undefined, now = new Date()): Record<string, number | string>[] {
  const end = new Date(now);
  end.setUTCMinutes(0, 0, 0);
  const rows: Record<string, number | string>[] = [];
  const index = new Map<number, Record<string, number | string>>();
  for (let i = 23; i >= 0; i--) {
    const t = new Date(end.getTime() - i * 3600_000);
    const row: Record<string, number | string> = { hour: fmtHour(t.toISOString()) };
    for (const m of CHART_METRICS) row[m] = 0;
    rows.push(row);
    index.set(t.getTime(), row);
  }
  for (const s of stats?.series ?? []) {
    if (s.scope !== '' || !(CHART_METRICS as readonly string[]).includes(s.metric)) continue;
    for (const p of s.points) {
      const row = index.get(new Date(p.time).getTime());
      if (row) row[s.metric] = ((row[s.metric] as number) ?? 0) + p.count;
    }
  }
  return rows;
}

function Counter({ label, value, testid, extra }: { label: string; value: string; testid: string; extra?: React.ReactNode }) {
  return (
    <Card withBorder padding="md" data-testid={testid}>
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      <Group gap="xs" align="baseline">
        <Text fz={28} fw={700}>
          {value}
        </Text>
        {extra}
      </Group>
    </Card>
  );
}

export function Dashboard() {
  const { t } = useTranslation();
  const showError = useErrorToast();
  const status = useLoad(() => api<Status>('GET', '/status'));
  const summary = useLoad(() => api<StatsSummary>('GET', '/stats/summary'));
  const stats = useLoad(() => {
    const from = new Date(Date.now() - 24 * 3600_000);
    from.setUTCMinutes(0, 0, 0);
    return api<StatsAnswer>('GET', `/stats${query({ granularity: 'hour', from: from.toISOString().replace('.000', '') })}`);
  });
  const { events: live, subscribe } = useEvents();
  // Live events first, then the most recent entries of the log files from before this page opened.
  const recent = useLoad(() => api<LogEntry[]>('GET', '/logs?limit=10'));
  const events: { time: string; level: string; message: string }[] = [...live, ...(recent.data ?? []).filter((e) => !live.length || e.time < live[live.length - 1].time)];
  const [busy, setBusy] = useState<string | null>(null);

  // Refresh on engine changes (debounced) and every 30 seconds.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const unsub = subscribe((e: ServerEvent) => {
      if (e.kind === 'log') return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void status.reload(), 500);
    });
    const every = setInterval(() => {
      void status.reload();
      void summary.reload();
      void stats.reload();
    }, 30_000);
    return () => {
      unsub();
      clearInterval(every);
      if (timer) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const chart = useMemo(() => hourlyPoints(stats.data), [stats.data]);

  const toggle = async (name: string, run: boolean) => {
    setBusy(name);
    try {
      await api<ListenerChange>('POST', `/listeners/${seg(name)}/${run ? 'start' : 'stop'}`);
      await status.reload();
    } catch (e) {
      showError(e);
    } finally {
      setBusy(null);
    }
  };

  const s = status.data;
  return (
    <Stack>
      <PageHeader
        title={t('dashboard.title')}
        intro={t('dashboard.intro')}
        actions={
          s && (
            <Text size="sm" c="dimmed">
              {t('dashboard.version', { version: s.version, host: s.hostname })}
            </Text>
          )
        }
      />
      <ErrorAlert error={status.error} />

      {s && s.warnings.length > 0 && (
        <Alert color="orange" icon={<IconAlertTriangle />} title={t('dashboard.warnings')} data-testid="warnings" role="alert">
          <Stack gap={4}>
            {s.warnings.map((w) => (
              <Text key={w}>{w}</Text>
            ))}
          </Stack>
        </Alert>
      )}

      {s && (
        <SimpleGrid cols={{ base: 2, md: 5 }}>
          <Counter label={t('dashboard.domains')} value={fmtNumber(s.counts.domains)} testid="count-domains" />
          <Counter label={t('dashboard.accounts')} value={fmtNumber(s.counts.accounts)} testid="count-accounts" />
          <Counter
            label={t('dashboard.queue')}
            value={fmtNumber(s.counts.queue)}
            testid="count-queue"
            extra={s.queue_paused && <Badge color="yellow">{t('queue.paused')}</Badge>}
          />
          <Counter label={t('dashboard.disk')} value={fmtBytes(s.disk_free_bytes)} testid="disk-free" />
          <Counter label={t('dashboard.certificate')} value={fmtDate(s.certificate_expires_at)} testid="cert-expiry" />
        </SimpleGrid>
      )}

      {s && (
        <Card withBorder>
          <Title order={4}>{t('dashboard.listeners')}</Title>
          <Text size="sm" c="dimmed" mb="sm">
            {t('dashboard.listenersIntro')}
          </Text>
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('dashboard.service')}</Table.Th>
                <Table.Th>{t('dashboard.address')}</Table.Th>
                <Table.Th>{t('dashboard.state')}</Table.Th>
                <Table.Th>{t('dashboard.onOff')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {s.listeners.map((l) => (
                <Table.Tr key={l.name} data-testid={`listener-${l.name}`}>
                  <Table.Td>{t(`listeners.${l.name}`, { defaultValue: l.label })}</Table.Td>
                  <Table.Td>
                    <Text ff="monospace" size="sm">
                      {l.address}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge color={l.running ? 'green' : 'red'}>{l.running ? t('dashboard.running') : t('dashboard.stopped')}</Badge>
                  </Table.Td>
                  <Table.Td>
                    <Switch
                      checked={l.running}
                      disabled={!l.can_stop || busy === l.name}
                      onChange={(e) => void toggle(l.name, e.currentTarget.checked)}
                      aria-label={t('dashboard.switchLabel', { name: t(`listeners.${l.name}`, { defaultValue: l.label }) })}
                      data-testid={`listener-switch-${l.name}`}
                      title={l.can_stop ? undefined : t('dashboard.cannotStop')}
                    />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}

      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Card withBorder>
          <Title order={4}>{t('dashboard.today')}</Title>
          <Text size="sm" c="dimmed" mb="sm">
            {t('dashboard.todayIntro')}
          </Text>
          <ErrorAlert error={summary.error} />
          <SimpleGrid cols={{ base: 2, sm: 4 }} data-testid="today-stats">
            {TODAY_METRICS.map((m) => (
              <Stack key={m} gap={0}>
                <Text size="xs" c="dimmed">
                  {t(`metrics.${m}`)}
                </Text>
                <Text fw={700} fz="lg">
                  {fmtNumber(summary.data?.today[m] ?? 0)}
                </Text>
              </Stack>
            ))}
          </SimpleGrid>
        </Card>
        <Card withBorder>
          <Title order={4}>{t('dashboard.traffic')}</Title>
          <Text size="sm" c="dimmed" mb="sm">
            {t('dashboard.trafficIntro')}
          </Text>
          <ErrorAlert error={stats.error} />
          <AreaChart
            h={200}
            data={chart}
            dataKey="hour"
            withLegend
            curveType="monotone"
            series={CHART_METRICS.map((m, i) => ({ name: m, label: t(`metrics.${m}`), color: ['blue.6', 'teal.6', 'grape.6'][i] }))}
            data-testid="traffic-chart"
          />
        </Card>
      </SimpleGrid>

      <Card withBorder>
        <Group justify="space-between">
          <Title order={4}>{t('dashboard.latestEvents')}</Title>
          <Link to="/log">{t('dashboard.openLog')}</Link>
        </Group>
        {events.length === 0 ? (
          <Text c="dimmed" size="sm" mt="sm">
            {t('dashboard.noEvents')}
          </Text>
        ) : (
          <Table mt="sm" data-testid="latest-events">
            <Table.Tbody>
              {events.slice(0, 10).map((e, i) => (
                <Table.Tr key={`${e.time}-${i}`}>
                  <Table.Td w={100}>{fmtTime(e.time)}</Table.Td>
                  <Table.Td w={130}>
                    <Badge color={levelColor(e.level)} variant="light">
                      {t(`levels.${e.level}`, { defaultValue: e.level })}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{e.message}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
    </Stack>
  );
}
