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
// The engine refuses requests from other web sites (it compares Origin with
// its own address), so the proxy presents the engine's own origin.
const proxy = {
  '/api': {
    target: api,
    changeOrigin: true,
    configure: (proxy: { on: (ev: 'proxyReq', fn: (req: { setHeader: (k: string, v: string) => void; getHeader: (k: string) => unknown }) => void) => void }) => {
      proxy.on('proxyReq', (req) => {
        if (req.getHeader('origin')) req.setHeader('origin', new URL(api).origin);
      });
    },
  },
};

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
