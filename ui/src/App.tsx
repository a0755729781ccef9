/**
 * The application: theme and notification providers, the router, and the
 * login gate. Without a token only the login page is shown; any 401 from the
 * engine brings the login page back with a plain explanation. On first run
 * (no domain yet) the setup wizard opens by itself, once per browser tab
 * session, and stays reachable from the navigation.
 */
import { MantineProvider, createTheme } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { useEffect, useState, type ReactNode } from 'react';
import { HashRouter, Navigate, Route, Routes, useLocation, useNavigate } from 'react-router';
import { api, onUnauthorized } from './api/client';
import { clearToken, getToken, setToken } from './api/auth';
import type { Status } from './api/types';
import { Layout } from './components/Layout';
import { EventsProvider } from './events';
import { Accounts } from './pages/Accounts';
import { Dashboard } from './pages/Dashboard';
import { Domains } from './pages/Domains';
import { IpFilter } from './pages/IpFilter';
import { LiveLog } from './pages/LiveLog';
import { Login } from './pages/Login';
import { Queue } from './pages/Queue';
import { Settings } from './pages/Settings';
import { Wizard, WIZARD_LEFT_KEY } from './pages/Wizard';

const theme = createTheme({ primaryColor: 'blue', defaultRadius: 'md' });

export function Providers({ children }: { children: ReactNode }) {
  return (
    <MantineProvider theme={theme}>
      <Notifications position="top-right" />
      {children}
    </MantineProvider>
  );
}

/** Opens the wizard when the server has no domain yet, unless the admin left it in this session. */
function FirstRun() {
  const navigate = useNavigate();
  const location = useLocation();
  useEffect(() => {
    if (sessionStorage.getItem(WIZARD_LEFT_KEY)) return;
    if (location.pathname !== '/') return;
    api<Status>('GET', '/status')
      .then((s) => {
        if (s.counts.domains === 0) navigate('/setup', { replace: true });
      })
      .catch(() => undefined);
    // Only on the first page shown after login.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return null;
}

export function Root() {
  const [token, setTok] = useState<string | null>(getToken());
  const [reason, setReason] = useState<'expired' | 'loggedOut' | null>(null);

  useEffect(
    () =>
      onUnauthorized(() => {
        setTok(null);
        setReason('expired');
      }),
    [],
  );

  if (!token) {
    return (
      <Login
        reason={reason}
        onLogin={(tok) => {
          setToken(tok);
          setReason(null);
          setTok(tok);
        }}
      />
    );
  }

  const logout = () => {
    clearToken();
    setReason('loggedOut');
    setTok(null);
  };

  return (
    <EventsProvider enabled={!!token}>
      <FirstRun />
      <Layout onLogout={logout}>
        <Routes>
          <Route path="/" element={<Dashboard />} />
          <Route path="/domains" element={<Domains />} />
          <Route path="/accounts" element={<Accounts />} />
          <Route path="/ip-filter" element={<IpFilter />} />
          <Route path="/queue" element={<Queue />} />
          <Route path="/log" element={<LiveLog />} />
          <Route path="/settings" element={<Settings />} />
          <Route path="/setup" element={<Wizard />} />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Routes>
      </Layout>
    </EventsProvider>
  );
}

export default function App() {
  return (
    <Providers>
      <HashRouter>
        <Root />
      </HashRouter>
    </Providers>
  );
}
