import pg from "pg";
import { setting } from "../config/env";
import { logger } from "../telemetry/logger";
import type { BucketLimit } from "./token-bucket";

/**
 * This process's copy of `rate_limits`, so the per-request decision reads memory, not the
 * database. Kept fresh three ways: a full load at start, `NOTIFY hms_config 'ratelimit:<tenant>'`
 * (sent by limits-repository.ts after each commit) reloading that tenant within milliseconds, and
 * a periodic full reload that also repairs anything missed while the LISTEN connection was down.
 *
 * The LISTEN connection is a dedicated `pg.Client` (a pooled one would be handed back and lose its
 * LISTEN); when it drops it reconnects with exponential back-off and reloads everything.
 */

export const CONFIG_CHANNEL = "hms_config";
export const RATELIMIT_PAYLOAD_PREFIX = "ratelimit:";

export interface ConfiguredLimit extends BucketLimit {
  /** changes on every write, so a re-saved limit with the same numbers still resets replicas */
  version: string;
  /** tenant-wide limits only: each caller's own limit inside this one (none: callers share it) */
  perCaller?: BucketLimit;
}

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 30_000;

export class LimitsCache {
  private byTenant = new Map<string, Map<string, ConfiguredLimit>>();
  private defaultLimit: ConfiguredLimit | undefined;
  private listener: pg.Client | null = null;
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** true once a full load has succeeded; until then only the env default applies */
  loaded = false;

  constructor(
    private readonly db: pg.Pool,
    private readonly opts: { listen: boolean; refreshMs: number },
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.defaultLimit = defaultFromEnv();
    await this.refresh();
    this.scheduleRefresh();
    if (this.opts.listen) await this.connectListener();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.refreshTimer = this.reconnectTimer = null;
    const l = this.listener;
    this.listener = null;
    await l?.end().catch(() => {});
  }

  /** The limit for a tenant-wide ("*") or per-service scope; the env default applies only to "*". */
  get(tenantId: string, scope: string): ConfiguredLimit | undefined {
    const own = this.byTenant.get(tenantId)?.get(scope);
    return own ?? (scope === "*" ? this.defaultLimit : undefined);
  }

  /** Reloads every limit. A failure keeps the last good copy (and is retried by the timer). */
  async refresh(): Promise<boolean> {
    try {
      const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM rate_limits`);
      const next = new Map<string, Map<string, ConfiguredLimit>>();
      for (const r of rows) {
        let m = next.get(r.tenant_id);
        if (!m) next.set(r.tenant_id, (m = new Map()));
        m.set(r.scope, toLimit(r));
      }
      this.byTenant = next;
      this.loaded = true;
      return true;
    } catch (err) {
      logger.warn({ err }, "rate limits: could not load the limits; keeping the last known ones");
      return false;
    }
  }

  /** Reloads one tenant's limits (on its NOTIFY). */
  async refreshTenant(tenantId: string): Promise<void> {
    try {
      const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM rate_limits WHERE tenant_id = $1`, [tenantId]);
      if (rows.length === 0) this.byTenant.delete(tenantId);
      else this.byTenant.set(tenantId, new Map(rows.map((r) => [r.scope, toLimit(r)])));
    } catch (err) {
      logger.warn({ err, tenantId }, "rate limits: could not reload a tenant's limits; the periodic refresh will");
    }
  }

  private scheduleRefresh(): void {
    if (this.stopped) return;
    // Until the first load succeeds, retry soon: until then no configured limit is enforced.
    const wait = this.loaded ? this.opts.refreshMs : Math.min(2_000, this.opts.refreshMs);
    this.refreshTimer = setTimeout(() => {
      try {
        this.defaultLimit = defaultFromEnv();
      } catch (err) {
        logger.error({ err }, "rate limits: invalid default limit in the environment; keeping the previous one");
      }
      void this.refresh().finally(() => this.scheduleRefresh());
    }, wait);
    this.refreshTimer.unref();
  }

  private async connectListener(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client(this.db.options);
    const lost = (err?: unknown) => {
      if (this.listener !== client) return;
      this.listener = null;
      client.removeAllListeners("notification");
      void client.end().catch(() => {});
      if (err) logger.warn({ err }, "rate limits: LISTEN connection lost; reconnecting");
      this.scheduleReconnect();
    };
    client.on("error", lost);
    client.on("end", () => lost());
    client.on("notification", (n) => {
      const payload = n.payload ?? "";
      if (n.channel === CONFIG_CHANNEL && payload.startsWith(RATELIMIT_PAYLOAD_PREFIX)) {
        void this.refreshTenant(payload.slice(RATELIMIT_PAYLOAD_PREFIX.length));
      }
    });
    this.listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CONFIG_CHANNEL}`);
      // Notifications sent while we were not listening are lost: catch up with a full reload.
      if (this.reconnectDelay > RECONNECT_MIN_MS) await this.refresh();
      this.reconnectDelay = RECONNECT_MIN_MS;
    } catch (err) {
      lost(err);
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const wait = this.reconnectDelay;
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connectListener();
    }, wait);
    this.reconnectTimer.unref();
  }
}

const COLUMNS = `tenant_id, scope, rps, burst, per_caller_rps, per_caller_burst, updated_at`;

interface Row {
  tenant_id: string;
  scope: string;
  rps: number;
  burst: number;
  per_caller_rps: number | null;
  per_caller_burst: number | null;
  updated_at: Date;
}

function toLimit(r: Row): ConfiguredLimit {
  const limit: ConfiguredLimit = { rps: r.rps, burst: r.burst, version: r.updated_at.toISOString() };
  if (r.per_caller_rps !== null && r.per_caller_burst !== null) {
    limit.perCaller = { rps: r.per_caller_rps, burst: r.per_caller_burst };
  }
  return limit;
}

function defaultFromEnv(): ConfiguredLimit | undefined {
  const rps = setting("HMS_DEFAULT_TENANT_RPS");
  if (rps === undefined) return undefined;
  const burst = setting("HMS_DEFAULT_TENANT_BURST") ?? Math.max(1, Math.ceil(rps));
  return { rps, burst, version: `env:${rps}:${burst}` };
}
