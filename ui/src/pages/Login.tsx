/**
 * The login page: the admin password, exchanged for a token at POST /api/v1/login.
 * Explains why it is shown (session ended, logged out) and what a wrong
 * password means.
 */
import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, ApiError } from '../api/client';
import { setLanguage, type Language } from '../i18n';
import { SegmentedControl } from '@mantine/core';

export function Login({ onLogin, reason }: { onLogin: (token: string) => void; reason: 'expired' | 'loggedOut' | null }) {
  const { t, i18n } = useTranslation();
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await api<{ token: string }>('POST', '/login', { password }, { auth: false });
      onLogin(res.token);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError(t('login.wrongPassword'));
      else if (err instanceof ApiError && err.status === 429) setError(t('login.tooMany'));
      else if (err instanceof ApiError && err.status === 0) setError(t('common.networkError'));
      else setError(err instanceof Error ? err.message : t('common.unknownError'));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p="xl" w={420} component="form" onSubmit={submit} aria-label={t('login.title')}>
        <Stack>
          <SegmentedControl
            aria-label={t('app.language')}
            size="xs"
            value={i18n.language === 'ru' ? 'ru' : 'en'}
            onChange={(v) => setLanguage(v as Language)}
            data={[
              { value: 'en', label: 'English' },
              { value: 'ru', label: 'Русский' },
            ]}
          />
          <Title order={2}>{t('login.title')}</Title>
          <Text c="dimmed">{t('login.intro')}</Text>
          {reason === 'expired' && (
            <Alert color="yellow" role="status">
              {t('login.expired')}
            </Alert>
          )}
          {reason === 'loggedOut' && (
            <Alert color="blue" role="status">
              {t('login.loggedOut')}
            </Alert>
          )}
          <PasswordInput
            label={t('login.password')}
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            error={error}
            autoFocus
            required
            data-testid="login-password"
          />
          <Button type="submit" loading={busy} data-testid="login-submit">
            {t('login.submit')}
          </Button>
          <Text size="sm" c="dimmed">
            {t('login.hint')}
          </Text>
        </Stack>
      </Paper>
    </Center>
  );
}
