/**
 * Shapes of the admin API's answers, as described by /api/v1/openapi.json.
 * Only the fields the UI reads are listed.
 */

export interface ListenerStatus {
  name: string;
  label: string;
  address: string;
  running: boolean;
  can_stop: boolean;
}

export interface Status {
  version: string;
  uptime_secs: number;
  started_at: string;
  hostname: string;
  listeners: ListenerStatus[];
  counts: { domains: number; accounts: number; queue: number };
  queue_paused: boolean;
  disk_free_bytes?: number | null;
  certificate_expires_at?: string | null;
  restart_needed: string[];
  warnings: string[];
  admin_password_set?: boolean;
  web_ui?: boolean;
}

export interface Setting {
  key: string;
  value: string;
  default: string;
  help: string;
  applies: 'now' | 'restart' | string;
}

export interface DomainInfo {
  name: string;
  accounts: number;
  catch_all?: string | null;
}

export type RecordStatus = 'ok' | 'missing' | 'wrong' | 'error';

export interface DnsRecord {
  kind: string;
  type: string;
  name: string;
  value: string;
  purpose: string;
  required: boolean;
}

export interface CheckedRecord extends DnsRecord {
  status: RecordStatus;
  found: string[];
  detail: string;
}

export interface DomainRecords {
  domain: string;
  hostname: string;
  records: DnsRecord[];
}

export interface DomainCheck {
  domain: string;
  hostname: string;
  ok: boolean;
  records: CheckedRecord[];
}

export interface AccountInfo {
  address: string;
  quota_bytes: number;
  used_bytes: number;
  enabled: boolean;
  has_password: boolean;
}

export interface AliasInfo {
  address: string;
  targets: string[];
}

export interface ListInfo {
  address: string;
  members: string[];
}

export interface IpRange {
  id: number;
  network: string;
  protocols: string;
  action: 'allow' | 'deny' | string;
  relay: boolean;
  priority: number;
  note: string;
}

export interface IpRangeInput {
  network: string;
  action: string;
  protocols?: string | null;
  relay?: boolean;
  priority?: number | null;
  note?: string | null;
}

export interface QueuedRecipient {
  address: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_error?: string | null;
}

export interface QueuedMessage {
  id: string;
  sender: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  arrived_at: number;
  last_error?: string | null;
  recipients: QueuedRecipient[];
}

export interface QueueListing {
  paused: boolean;
  messages: QueuedMessage[];
}

export interface QueueChange {
  recipients: number;
  paused: boolean;
}

export interface LogEntry {
  time: string;
  level: string;
  protocol: string;
  message: string;
  message_id?: string | null;
  session?: number | null;
  fields: Record<string, unknown>;
}

export interface TraceStep {
  time: string;
  level: string;
  protocol: string;
  event: string;
  summary: string;
  fields: Record<string, unknown>;
}

export interface Trace {
  message_id: string;
  status: string;
  summary: string;
  steps: TraceStep[];
  queue?: QueuedMessage | null;
}

export interface StatPoint {
  time: string;
  count: number;
}

export interface StatSeries {
  metric: string;
  scope: string;
  total: number;
  points: StatPoint[];
}

export interface StatsAnswer {
  granularity: string;
  from: string;
  to: string;
  series: StatSeries[];
}

export interface StatsSummary {
  today_since: string;
  today: Record<string, number>;
  last_hour: Record<string, number>;
  today_by_domain: Record<string, Record<string, number>>;
  today_by_mailbox: Record<string, Record<string, number>>;
}

/** One Server-Sent Event from /api/v1/events (`log`, `status` or `notification`). */
export interface ServerEvent {
  time: string;
  level: string;
  kind: string;
  target: string;
  message: string;
  fields: Record<string, unknown>;
}

export interface ListenerChange {
  changed: boolean;
  listener: ListenerStatus;
}

/** GET /api/v1/certificate: the certificate used for encrypted connections. */
export interface CertificateInfo {
  subject: string;
  names: string[];
  issuer: string;
  self_signed: boolean;
  not_before: string;
  not_after: string;
  days_left: number;
  fingerprint_sha256: string;
  chain_length: number;
}

/** POST /api/v1/test-message. */
export interface TestMessageSent {
  message_id: string;
  from: string;
  local: boolean;
  queued: boolean;
}
