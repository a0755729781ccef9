/**
 * Queue: messages waiting to be delivered to other servers, with each
 * recipient's attempts, next attempt and last error. Retry or delete one
 * message, send everything now, or pause and resume all delivery.
 */
import { Alert, Badge, Button, Card, Group, Stack, Table, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconPlayerPause, IconPlayerPlay, IconRefresh, IconSend } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, seg } from '../api/client';
import type { QueueChange, QueueListing, QueuedMessage } from '../api/types';
import { Confirm } from '../components/Confirm';
import { TraceModal } from '../components/TraceView';
import { ErrorAlert, PageHeader, RemoveButton, useErrorToast } from '../components/common';
import { fmtDateTime, fmtRelative } from '../format';
import { useLoad } from '../useLoad';

export function Queue() {
  const { t } = useTranslation();
  const showError = useErrorToast();
  const queue = useLoad(() => api<QueueListing>('GET', '/queue'));
  const [removing, setRemoving] = useState<QueuedMessage | null>(null);
  const [trace, setTrace] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const act = async (key: string, method: string, path: string, done?: (r: QueueChange | undefined) => string) => {
    setBusy(key);
    try {
      const r = await api<QueueChange | undefined>(method, path);
      if (done) notifications.show({ color: 'green', message: done(r) });
      await queue.reload();
    } catch (e) {
      showError(e);
    } finally {
      setBusy(null);
    }
  };

  const q = queue.data;
  return (
    <Stack>
      <PageHeader
        title={t('queue.title')}
        intro={t('queue.intro')}
        actions={
          <Group>
            <Button variant="default" leftSection={<IconRefresh size={16} />} onClick={() => void queue.reload()} data-testid="queue-refresh">
              {t('common.refresh')}
            </Button>
            <Button
              leftSection={<IconSend size={16} />}
              loading={busy === 'all'}
              onClick={() => void act('all', 'POST', '/queue/retry-all', (r) => t('queue.retriedAll', { count: r?.recipients ?? 0 }))}
              data-testid="queue-retry-all"
            >
              {t('queue.retryAll')}
            </Button>
            {q?.paused ? (
              <Button
                color="green"
                leftSection={<IconPlayerPlay size={16} />}
                loading={busy === 'pause'}
                onClick={() => void act('pause', 'POST', '/queue/resume', () => t('queue.resumed'))}
                data-testid="queue-resume"
              >
                {t('queue.resume')}
              </Button>
            ) : (
              <Button
                color="yellow"
                leftSection={<IconPlayerPause size={16} />}
                loading={busy === 'pause'}
                onClick={() => void act('pause', 'POST', '/queue/pause', () => t('queue.pausedDone'))}
                data-testid="queue-pause"
              >
                {t('queue.pause')}
              </Button>
            )}
          </Group>
        }
      />
      <ErrorAlert error={queue.error} />
      {q?.paused && (
        <Alert color="yellow" data-testid="queue-paused">
          {t('queue.pausedText')}
        </Alert>
      )}
      {q && q.messages.length === 0 && (
        <Text c="dimmed" data-testid="queue-empty">
          {t('queue.empty')}
        </Text>
      )}
      {q?.messages.map((m) => (
        <Card withBorder key={m.id} data-testid={`queue-message-${m.id}`}>
          <Group justify="space-between" align="flex-start">
            <Stack gap={2}>
              <Group gap="xs">
                <Text fw={600} ff="monospace">
                  {m.id}
                </Text>
                <Badge color={m.status === 'deferred' ? 'orange' : m.status === 'paused' ? 'yellow' : 'blue'}>
                  {t(`queue.status.${m.status}`, { defaultValue: m.status })}
                </Badge>
              </Group>
              <Text size="sm">
                {t('queue.from')}: {m.sender || t('queue.bounceSender')}
              </Text>
              <Text size="sm" c="dimmed">
                {t('queue.arrived')}: {fmtDateTime(m.arrived_at)}
              </Text>
            </Stack>
            <Group gap="xs">
              <Button size="xs" variant="default" onClick={() => setTrace(m.id)} aria-label={t('queue.traceNamed', { id: m.id })}>
                {t('queue.trace')}
              </Button>
              <Button
                size="xs"
                variant="light"
                leftSection={<IconSend size={14} />}
                loading={busy === m.id}
                onClick={() => void act(m.id, 'POST', `/queue/${seg(m.id)}/retry`, () => t('queue.retried'))}
                aria-label={t('queue.retryNamed', { id: m.id })}
                data-testid={`queue-retry-${m.id}`}
              >
                {t('queue.retry')}
              </Button>
              <RemoveButton label={t('queue.deleteNamed', { id: m.id })} onClick={() => setRemoving(m)} text={t('common.delete')} testid={`queue-delete-${m.id}`} />
            </Group>
          </Group>
          <Table mt="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('queue.recipient')}</Table.Th>
                <Table.Th>{t('queue.attempts')}</Table.Th>
                <Table.Th>{t('queue.nextAttempt')}</Table.Th>
                <Table.Th>{t('queue.lastError')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {m.recipients.map((r) => (
                <Table.Tr key={r.address}>
                  <Table.Td>{r.address}</Table.Td>
                  <Table.Td>{r.attempts}</Table.Td>
                  <Table.Td title={fmtDateTime(r.next_attempt_at)}>{fmtRelative(r.next_attempt_at)}</Table.Td>
                  <Table.Td>
                    {r.last_error ? (
                      <Text size="sm" c="red">
                        {r.last_error}
                      </Text>
                    ) : (
                      <Text size="sm" c="dimmed">
                        {t('queue.noError')}
                      </Text>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      ))}
      <Confirm
        opened={!!removing}
        title={t('queue.deleteTitle')}
        text={t('queue.deleteText', { id: removing?.id ?? '' })}
        confirmLabel={t('common.delete')}
        onConfirm={() => {
          const id = removing!.id;
          setRemoving(null);
          void act(id, 'DELETE', `/queue/${seg(id)}`, () => t('queue.deleted'));
        }}
        onClose={() => setRemoving(null)}
      />
      {trace && <TraceModal id={trace} onClose={() => setTrace(null)} />}
    </Stack>
  );
}
