/**
 * Starts the real mailroomd for browser tests: a temporary data directory,
 * free ports (a random --port-offset), and helpers to use the admin API and
 * to send mail with an independent SMTP client (Python's smtplib).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function mailroomd(): string {
  if (process.env.MAILROOMD) return process.env.MAILROOMD;
  const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME ?? '/root', '.cache', 'mailroom-target');
  return join(target, 'release', 'mailroomd');
}

export class Engine {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'mailroom-ui-e2e-'));
  proc: ChildProcess | null = null;
  listeners: Record<string, string> = {};
  token = '';
  log = '';

  cli(...args: string[]): string {
    return execFileSync(mailroomd(), ['--data-dir', this.dataDir, ...args], { encoding: 'utf8' });
  }

  async start(): Promise<this> {
    const offset = 20000 + Math.floor(Math.random() * 20000);
    this.proc = spawn(mailroomd(), ['--data-dir', this.dataDir, 'serve', '--bind', '127.0.0.1', '--port-offset', String(offset)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout?.on('data', (d) => (this.log += d));
    this.proc.stderr?.on('data', (d) => (this.log += d));
    const runtime = join(this.dataDir, 'runtime.json');
    for (let i = 0; i < 300; i++) {
      if (this.proc.exitCode !== null) throw new Error(`mailroomd exited:\n${this.log}`);
      if (existsSync(runtime)) {
        try {
          const info = JSON.parse(readFileSync(runtime, 'utf8'));
          if (info.pid === this.proc.pid) {
            this.listeners = info.listeners;
            this.token = readFileSync(join(this.dataDir, 'admin.token'), 'utf8').trim();
            return this;
          }
        } catch {
          // written a moment later
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`mailroomd did not start:\n${this.log}`);
  }

  get base(): string {
    return `http://${this.listeners.admin}`;
  }

  port(name: string): number {
    return Number(this.listeners[name].split(':').pop());
  }

  async api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const r = await fetch(`${this.base}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: (text ? JSON.parse(text) : null) as T };
  }

  /** Sends one message over SMTP with Python's smtplib; returns the server's reply per recipient. */
  smtp(from: string, to: string[], subject: string): string {
    const script = `
import json, smtplib, sys
s = smtplib.SMTP("127.0.0.1", ${this.port('smtp')}, timeout=30)
s.ehlo("ui-e2e.test")
s.mail(${JSON.stringify(from)})
codes = [s.rcpt(r)[0] for r in ${JSON.stringify(to)}]
if any(c == 250 for c in codes):
    code, msg = s.data(b"Subject: ${subject}\\r\\nFrom: <${from}>\\r\\n\\r\\nHello from the browser test.\\r\\n")
    codes.append(code)
s.quit()
print(json.dumps(codes))
`;
    return execFileSync('python3', ['-c', script], { encoding: 'utf8' }).trim();
  }

  stop(): void {
    this.proc?.kill('SIGTERM');
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
