/**
 * Starts the admin UI: picks up a `#token=...` link (also one arriving while
 * the page is open), loads the translations
 * and styles, and mounts the app.
 */
import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import '@mantine/charts/styles.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { takeTokenFromUrl, tokenInUrl } from './api/auth';
import i18n from './i18n';
import App from './App';

takeTokenFromUrl();
// A new link while the page is open (the desktop app does this when the server
// restarts with a new local key): if the server accepts its key, take it and
// start afresh; a key it refuses changes nothing (no logging out by link).
window.addEventListener('hashchange', () => {
  const token = tokenInUrl();
  if (token === null) return;
  void fetch('/api/v1/status', { headers: { Authorization: `Bearer ${token}` } })
    .then((r) => {
      if (r.status === 200 && takeTokenFromUrl()) window.location.reload();
      else history.replaceState(null, '', location.pathname + location.search + '#/');
    })
    .catch(() => undefined);
});
document.documentElement.lang = i18n.language;

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
