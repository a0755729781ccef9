/**
 * The story of one message ("where did my letter go?"): its overall status
 * and summary, then every step in order, from GET /api/v1/messages/{id}/trace.
 */
import { Alert, Badge, Loader, Modal, Stack, Text, Timeline } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { api, seg } from '../api/client';
import type { Trace } from '../api/types';
import { fmtDateTime } from '../format';
import { useLoad } from '../useLoad';
import { ErrorAlert } from './common';

const statusColor = (s: string) =>
  s === 'delivered' ? 'green' : s === 'bounced' ? 'red' : s === 'queued' ? 'blue' : s === 'partially delivered' ? 'orange' : 'gray';

const stepColor = (level: string) => (level === 'ERROR' ? 'red' : level === 'WARN' ? 'orange' : 'blue');

export function TraceView({ id }: { id: string }) {
  const { t } = useTranslation();
  const trace = useLoad(() => api<Trace>('GET', `/messages/${seg(id)}/trace`), [id]);
  if (trace.loading && !trace.data) return <Loader />;
  if (trace.error) return <ErrorAlert error={trace.error} />;
  const tr = trace.data!;
  return (
    <Stack data-testid="trace-view">
      <Alert color={statusColor(tr.status)}>
        <Badge color={statusColor(tr.status)} mb={6} data-testid="trace-status">
          {t(`trace.status.${tr.status}`, { defaultValue: tr.status })}
        </Badge>
        <Text>{tr.summary}</Text>
      </Alert>
      {tr.steps.length === 0 ? (
        <Text c="dimmed">{t('trace.noSteps')}</Text>
      ) : (
        <Timeline bulletSize={18} lineWidth={2}>
          {tr.steps.map((s, i) => (
            <Timeline.Item key={i} color={stepColor(s.level)} title={s.summary} data-testid="trace-step">
              <Text size="xs" c="dimmed">
                {fmtDateTime(s.time)} · {s.protocol} · {s.event}
              </Text>
            </Timeline.Item>
          ))}
        </Timeline>
      )}
    </Stack>
  );
}

export function TraceModal({ id, onClose }: { id: string; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <Modal opened onClose={onClose} title={t('trace.title', { id })} size="xl">
      <TraceView id={id} />
    </Modal>
  );
}
