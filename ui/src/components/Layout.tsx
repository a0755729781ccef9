/**
 * The frame around every page: header (name, language switch, log out) and the
 * left navigation.
 */
import { AppShell, Badge, Burger, Button, Group, NavLink, SegmentedControl, Title, Tooltip } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import {
  IconAdjustments,
  IconDashboard,
  IconList,
  IconLogout,
  IconMail,
  IconShieldLock,
  IconStack2,
  IconUsers,
  IconWand,
  IconWorld,
} from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { NavLink as RouterLink, useLocation } from 'react-router';
import { setLanguage, type Language } from '../i18n';
import { useEvents } from '../events';

const NAV = [
  { to: '/', key: 'dashboard', icon: IconDashboard },
  { to: '/domains', key: 'domains', icon: IconWorld },
  { to: '/accounts', key: 'accounts', icon: IconUsers },
  { to: '/ip-filter', key: 'ipFilter', icon: IconShieldLock },
  { to: '/queue', key: 'queue', icon: IconStack2 },
  { to: '/log', key: 'log', icon: IconList },
  { to: '/settings', key: 'settings', icon: IconAdjustments },
  { to: '/setup', key: 'setup', icon: IconWand },
] as const;

export function Layout({ children, onLogout }: { children: ReactNode; onLogout: () => void }) {
  const { t, i18n } = useTranslation();
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  const { connected } = useEvents();

  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 230, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="xs">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={t('nav.menu')} />
            <IconMail />
            <Title order={4}>{t('app.name')}</Title>
            <Tooltip label={connected ? t('app.liveOn') : t('app.liveOff')}>
              <Badge color={connected ? 'green' : 'gray'} variant="dot" data-testid="live-indicator">
                {connected ? t('app.live') : t('app.offline')}
              </Badge>
            </Tooltip>
          </Group>
          <Group gap="sm">
            <SegmentedControl
              aria-label={t('app.language')}
              data-testid="language-switch"
              size="xs"
              value={i18n.language === 'ru' ? 'ru' : 'en'}
              onChange={(v) => setLanguage(v as Language)}
              data={[
                { value: 'en', label: 'English' },
                { value: 'ru', label: 'Русский' },
              ]}
            />
            <Button variant="subtle" size="xs" leftSection={<IconLogout size={16} />} onClick={onLogout}>
              {t('app.logout')}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label={t('nav.label')}>
        {NAV.map((n) => (
          <NavLink
            key={n.to}
            component={RouterLink}
            to={n.to}
            label={t(`nav.${n.key}`)}
            leftSection={<n.icon size={18} />}
            active={n.to === '/' ? location.pathname === '/' : location.pathname.startsWith(n.to)}
            onClick={close}
            data-testid={`nav-${n.key}`}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
