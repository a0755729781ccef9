/**
 * Small pieces used on every page: the page title with its one-line
 * explanation, the red box that shows what the engine said went wrong, the
 * remove button of a table row, the Cancel/Save pair of a dialog, and
 * `useAction` (busy flag and error sentence around one call to the engine)
 * and `useErrorToast` (the engine's sentence in a red message in the corner).
 */
import { Alert, Button, Group, Stack, Text, Title } from '@mantine/core';
import { IconAlertCircle, IconTrash } from '@tabler/icons-react';
import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { notifications } from '@mantine/notifications';
import { ApiError } from '../api/client';

export function PageHeader({ title, intro, actions }: { title: string; intro: string; actions?: ReactNode }) {
  return (
    <Group justify="space-between" align="flex-start" mb="md" wrap="nowrap">
      <Stack gap={4}>
        <Title order={2}>{title}</Title>
        <Text c="dimmed">{intro}</Text>
      </Stack>
      {actions}
    </Group>
  );
}

/** The engine's own sentence for an API error, or a plain one for a network failure. */
export function useErrorText() {
  const { t } = useTranslation();
  return (e: unknown): string => {
    if (e instanceof ApiError) {
      if (e.status === 0) return t('common.networkError');
      return e.message;
    }
    return e instanceof Error && e.message ? e.message : t('common.unknownError');
  };
}

/**
 * Runs one action against the engine: `busy` while it runs, `error` with the
 * engine's sentence if it fails (cleared when the next run starts).
 */
export function useAction() {
  const errText = useErrorText();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(errText(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

/** Shows what went wrong in a red message in the corner (for actions with no form to hold it). */
export function useErrorToast() {
  const { t } = useTranslation();
  const errText = useErrorText();
  return (e: unknown) => notifications.show({ color: 'red', title: t('common.errorTitle'), message: errText(e) });
}

export function ErrorAlert({ error }: { error: unknown }) {
  const text = useErrorText();
  const { t } = useTranslation();
  if (!error) return null;
  return (
    <Alert color="red" icon={<IconAlertCircle />} title={t('common.errorTitle')} mb="md" role="alert">
      {text(error)}
    </Alert>
  );
}

/** The red "Remove" (or "Delete") button at the end of a table row. */
export function RemoveButton({
  label,
  onClick,
  text,
  testid,
}: {
  /** Accessible name saying what is removed, e.g. "Remove alice@example.com". */
  label: string;
  onClick: () => void;
  /** Button text; "Remove" by default. */
  text?: string;
  testid?: string;
}) {
  const { t } = useTranslation();
  return (
    <Button size="xs" color="red" variant="subtle" leftSection={<IconTrash size={14} />} onClick={onClick} aria-label={label} data-testid={testid}>
      {text ?? t('common.remove')}
    </Button>
  );
}

/** Cancel and Save at the foot of a dialog's form (Save submits it). */
export function SaveCancel({ onCancel, busy, saveTestid }: { onCancel: () => void; busy: boolean; saveTestid: string }) {
  const { t } = useTranslation();
  return (
    <Group justify="flex-end">
      <Button variant="default" onClick={onCancel}>
        {t('common.cancel')}
      </Button>
      <Button type="submit" loading={busy} data-testid={saveTestid}>
        {t('common.save')}
      </Button>
    </Group>
  );
}
