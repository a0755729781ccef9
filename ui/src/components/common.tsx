/**
 * Small pieces used on every page: the page title with its one-line
 * explanation, and the red box that shows what the engine said went wrong.
 */
import { Alert, Group, Stack, Text, Title } from '@mantine/core';
import { IconAlertCircle } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
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
