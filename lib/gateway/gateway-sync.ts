import { hostname } from "node:os";
import pg from "pg";
import type { Transition } from "../circuit/breaker";
import { CIRCUIT_CHANNEL, parseCircuitNotice, persistTransition, sharedStateOf } from "../circuit/circuit-store";
import { HEALTH_CHANNEL } from "../health/service-status";
import { REGISTRY_CHANNEL } from "../registry/registry-notify";
import { logger } from "../telemetry/logger";
import type { RoutingTable, RuntimeInstance } from "./routing-table";

/**
 * Keeps one replica's routing table in step with every other replica and the registry:
 * - LISTEN hms_circuit (breaker states, adopted straight from the payload), hms_health
 *   (`<tenant>:<service>`: reload that service's health), hms_registry (`<serviceId>`: reload);
 * - persists this replica's breaker transitions, one at a time per instance, version-checked;
 * - every HEARTBEAT_MS, writes this replica's local view of its breakers (`gateway_replicas`);
 * - every RESYNC_MS, reloads everything (a dropped LISTEN connection loses notices).
 * The LISTEN connection reconnects on its own with back-off; none of this is on the hot path.
 */
export const HEARTBEAT_MS = 2_000;
const RESYNC_MS = 30_000;
/** Breakers in the heartbeat: used by this replica in the last 10 minutes, or not closed. */
const DETAIL_WINDOW_MS = 10 * 60_000;

export class GatewaySync {
  private listener: pg.Client | null = null;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private reconnectDelay = 250;
  private pending = new Map<string, Promise<void>>();

  constructor(
    private readonly db: pg.Pool,
    private readonly table: RoutingTable,
    private readonly replicaId: string,
    private readonly listenUrl: string | undefined,
  ) {}

  async start(): Promise<void> {
    await this.table.loadAll();
    await this.listen();
    await this.heartbeat().catch(() => {});
    this.timers.push(
      setInterval(
        () => void this.heartbeat().catch((err: unknown) => logger.debug({ err }, "heartbeat failed")),
        HEARTBEAT_MS,
      ),
      setInterval(
        () => void this.table.loadAll().catch((err: unknown) => logger.warn({ err }, "routing table resync failed")),
        RESYNC_MS,
      ),
    );
    for (const t of this.timers) t.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.allSettled(this.pending.values());
    await this.listener?.end().catch(() => {});
    await this.db.query(`DELETE FROM gateway_replicas WHERE replica_id = $1`, [this.replicaId]).catch(() => {});
  }

  /** Persists a transition this replica made (chained per instance; off the hot path). */
  persist(inst: RuntimeInstance, t: Transition): void {
    const prior = this.pending.get(inst.id) ?? Promise.resolve();
    // The state as this transition left it; the version it builds on is read when its turn comes
    // (the transition queued before it may have moved it on).
    const state = inst.breaker.snapshot();
    const next = prior
      .then(async () => {
        const b = inst.breaker;
        const stored = await persistTransition(this.db, {
          instanceId: inst.id,
          serviceId: inst.serviceId,
          tenantId: inst.tenantId,
          expectedVersion: b.version,
          transition: t,
          next: state,
          actor: `gateway:${this.replicaId}`,
        });
        if (!stored) return;
        if (stored.won) b.version = Number(stored.row.version);
        else this.table.adoptCircuit(inst.id, sharedStateOf(stored.row)); // another replica was first
      })
      .catch((err: unknown) => logger.warn({ err, instanceId: inst.id }, "could not persist a breaker transition"))
      .finally(() => {
        if (this.pending.get(inst.id) === next) this.pending.delete(inst.id);
      });
    this.pending.set(inst.id, next);
  }

  /** Resolves when every transition queued so far is stored (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending.values()]);
  }

  private async listen(): Promise<void> {
    if (this.stopped || !this.listenUrl) return;
    const client = new pg.Client({ connectionString: this.listenUrl });
    client.on("error", () => {}); // 'end' follows; reconnect there
    client.on("end", () => {
      if (this.listener === client) this.listener = null;
      this.scheduleReconnect();
    });
    client.on("notification", (n) => this.onNotice(n.channel, n.payload));
    try {
      await client.connect();
      await client.query(`LISTEN ${CIRCUIT_CHANNEL}; LISTEN ${HEALTH_CHANNEL}; LISTEN ${REGISTRY_CHANNEL}`);
      this.listener = client;
      this.reconnectDelay = 250;
    } catch (err) {
      logger.warn({ err }, "gateway LISTEN connection failed; retrying");
      client.removeAllListeners("end");
      await client.end().catch(() => {});
      this.scheduleReconnect();
    }
  }

  private reconnecting = false;
  private scheduleReconnect(): void {
    if (this.stopped || this.reconnecting) return;
    this.reconnecting = true;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(10_000, this.reconnectDelay * 2);
    setTimeout(() => {
      this.reconnecting = false;
      void this.listen().then(() => {
        // Anything may have changed while we were deaf.
        if (this.listener) void this.table.loadAll().catch(() => {});
      });
    }, delay).unref();
  }

  private onNotice(channel: string, payload: string | undefined): void {
    if (channel === CIRCUIT_CHANNEL) {
      const n = parseCircuitNotice(payload);
      if (n && !this.table.adoptCircuit(n.instanceId, n)) {
        void this.table.reloadService({ serviceId: n.serviceId }).catch(() => {});
      }
      return;
    }
    if (channel === HEALTH_CHANNEL && payload) {
      const i = payload.indexOf(":");
      if (i > 0) {
        const tenantId = payload.slice(0, i);
        const name = payload.slice(i + 1);
        void this.table.reloadService({ tenantId, name }).catch(() => {});
      }
      return;
    }
    if (channel === REGISTRY_CHANNEL && payload) {
      void this.table.reloadService({ serviceId: payload }).catch(() => {});
    }
  }

  private async heartbeat(): Promise<void> {
    const now = Date.now();
    const view: Record<string, unknown> = {};
    for (const i of this.table.allInstances()) {
      const b = i.breaker;
      const state = b.effectiveState(now);
      if (state === "closed" && now - i.lastUsedAt > DETAIL_WINDOW_MS) continue;
      const w = b.window(now);
      view[i.id] = {
        state,
        calls: w.calls,
        failureRatePct: w.failureRatePct,
        consecutiveFailures: b.consecutiveFailures,
        outstanding: i.outstanding,
      };
    }
    await this.db.query(
      `INSERT INTO gateway_replicas (replica_id, hostname, pid, last_seen_at, circuits)
       VALUES ($1, $2, $3, now(), $4)
       ON CONFLICT (replica_id) DO UPDATE SET last_seen_at = now(), circuits = EXCLUDED.circuits`,
      [this.replicaId, hostname(), process.pid, JSON.stringify(view)],
    );
  }
}
