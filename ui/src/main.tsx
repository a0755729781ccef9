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
import { takeTokenFromUrl } from './api/auth';
import i18n from './i18n';
import App from './App';

takeTokenFromUrl();
// A new link while the page is open (the desktop app does this when the server
// restarts with a new local key): take its key and start afresh with it.
window.addEventListener('hashchange', () => {
  if (takeTokenFromUrl()) window.location.reload();
});
document.documentElement.lang = i18n.language;

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
