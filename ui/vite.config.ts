/**
 * Build, dev-server and test configuration.
 *
 * The UI calls the engine at relative `/api/...` URLs. In development the dev
 * server (and `vite preview`) forwards them to the engine named by the
 * MAILROOM_API environment variable (default http://127.0.0.1:8080).
 */
import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

const api = process.env.MAILROOM_API ?? 'http://127.0.0.1:8080';
const proxy = { '/api': { target: api, changeOrigin: true } };

export default defineConfig({
  plugins: [react()],
  base: './',
  server: { proxy },
  preview: { proxy },
  build: { outDir: 'dist', chunkSizeWarningLimit: 2000 },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    globals: true,
    css: false,
    testTimeout: 15000,
  },
});
