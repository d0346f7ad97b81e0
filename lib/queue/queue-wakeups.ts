import pg from "pg";
import { pool } from "../db/pool";
import { logger } from "../telemetry/logger";

/**
 * Wake-ups for long-polling leases (issue 5): ONE `LISTEN hms_queue` connection per process, fanned
 * out to every waiting lease in that process by `<tenant>/<queue>` key.
 *
 * - A lease that finds nothing arms a Waiter for its key BEFORE it queries, so a message sent
 *   between its query and its wait still wakes it (no lost wake-up).
 * - Waiters never hold a pooled connection while they wait.
 * - A wait also ends on a short timer (FALLBACK_MS): a lost notification, a delayed message
 *   becoming visible, or a lease expiring costs at most that long. The LISTEN connection
 *   reconnects with back-off when it drops, and wakes every waiter once it is back (anything may
 *   have happened meanwhile).
 * - Senders call `announce()` after their transaction commits: waiters in this process wake at
 *   once, and one `pg_notify` per key is in flight at a time per process (calls meanwhile are
 *   coalesced into one more notify after it, at most one per NOTIFY_MIN_INTERVAL_MS), so a steady
 *   stream of sends costs at most 100 NOTIFYs a second per queue and process, not one each; the
 *   first send after a quiet spell notifies at once. Each NOTIFY is its own tiny transaction
 *   with synchronous_commit off: PostgreSQL serialises committing transactions that notify on one lock, and a send's own commit must not
 *   wait in that line (a NOTIFY lost to a crash costs only FALLBACK_MS).
 *
 * Payloads: `<tenant>/<queue>`; a JSON `{"tenant","queue"}` (what intake sends) is understood too.
 * The instance lives on globalThis: the web process loads this module twice (Next's bundle and the
 * lean data plane) and both must share one connection and one set of waiters.
 */
export const QUEUE_CHANNEL = "hms_queue";
export const FALLBACK_MS = 1_000;
/** Under a steady stream of sends, at most one NOTIFY per key and process this often. */
export const NOTIFY_MIN_INTERVAL_MS = 10;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;

export type WakeReason = "notified" | "timeout" | "aborted";

export function queueKey(tenant: string, queue: string): string {
  return `${tenant}/${queue}`;
}

/** `<tenant>/<queue>` or `{"tenant","queue"}` → key; null when it is neither. */
export function keyOfPayload(payload: string | undefined): string | null {
  if (!payload) return null;
  if (payload.startsWith("{")) {
    try {
      const o = JSON.parse(payload) as { tenant?: unknown; queue?: unknown };
      return typeof o.tenant === "string" && typeof o.queue === "string" ? queueKey(o.tenant, o.queue) : null;
    } catch {
      return null;
    }
  }
  return payload.lastIndexOf("/") > 0 ? payload : null;
}

export class Waiter {
  fired = false;
  private resolve: ((r: WakeReason) => void) | null = null;

  constructor(
    readonly key: string,
    private readonly hub: QueueWakeups,
  ) {}

  /** Called by the hub: wakes the wait now, or makes the next wait return at once. */
  fire(): void {
    this.fired = true;
    this.resolve?.("notified");
  }

  /** Waits until woken, `ms` pass, or `signal` aborts. Disarms the waiter when it returns. */
  wait(ms: number, signal?: AbortSignal): Promise<WakeReason> {
    if (this.fired) return (this.hub.disarm(this), Promise.resolve("notified"));
    if (signal?.aborted) return (this.hub.disarm(this), Promise.resolve("aborted"));
    return new Promise<WakeReason>((resolve) => {
      const done = (r: WakeReason) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.resolve = null;
        this.hub.disarm(this);
        resolve(r);
      };
      const onAbort = () => done("aborted");
      const timer = setTimeout(() => done("timeout"), Math.max(0, ms));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.resolve = done;
    });
  }

  cancel(): void {
    this.hub.disarm(this);
  }
}

export class QueueWakeups {
  private waiters = new Map<string, Set<Waiter>>();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private backoff = BACKOFF_MIN_MS;
  private stopped = false;
  private listening = false;
  private notifying = new Map<string, { again: boolean }>();
  /** counters for tests and metrics */
  readonly stats = { connects: 0, notificationsReceived: 0, notifiesSent: 0, notifiesCoalesced: 0 };

  constructor(
    private readonly connectionString: () => string = () => process.env.DATABASE_URL ?? "",
    private readonly notifyPool: () => pg.Pool = pool,
  ) {}

  /** Registers interest in `key`; wait on the result (or cancel it). Starts the LISTEN connection. */
  arm(tenant: string, queue: string): Waiter {
    const w = new Waiter(queueKey(tenant, queue), this);
    let set = this.waiters.get(w.key);
    if (!set) this.waiters.set(w.key, (set = new Set()));
    set.add(w);
    this.ensureListening();
    return w;
  }

  disarm(w: Waiter): void {
    const set = this.waiters.get(w.key);
    if (!set) return;
    set.delete(w);
    if (set.size === 0) this.waiters.delete(w.key);
  }

  /** How many leases in this process are waiting (all keys, or one). */
  waiting(tenant?: string, queue?: string): number {
    if (tenant !== undefined && queue !== undefined) return this.waiters.get(queueKey(tenant, queue))?.size ?? 0;
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }

  get isListening(): boolean {
    return this.listening;
  }

  /** Wakes this process's waiters for the key and tells every other process (after a commit). */
  announce(tenant: string, queue: string): void {
    const key = queueKey(tenant, queue);
    this.wake(key);
    const inFlight = this.notifying.get(key);
    if (inFlight) {
      inFlight.again = true;
      this.stats.notifiesCoalesced++;
      return;
    }
    const state = { again: false };
    this.notifying.set(key, state);
    const send = (): void => {
      const started = performance.now();
      this.stats.notifiesSent++;
      this.notifyPool()
        .query(
          `BEGIN; SET LOCAL synchronous_commit TO off; SELECT pg_notify('${QUEUE_CHANNEL}', ${pg.escapeLiteral(key)}); COMMIT`,
        )
        .catch((err: unknown) => logger.warn({ err }, "queue NOTIFY failed; consumers fall back to polling"))
        .finally(() => {
          if (!state.again) {
            this.notifying.delete(key);
            return;
          }
          state.again = false;
          // Sends meanwhile: one more NOTIFY for all of them, at most one per NOTIFY_MIN_INTERVAL_MS.
          const wait = NOTIFY_MIN_INTERVAL_MS - (performance.now() - started);
          if (wait <= 0) send();
          else setTimeout(send, wait).unref();
        });
    };
    send();
  }

  /** Wakes every waiter of one key. */
  wake(key: string): void {
    const set = this.waiters.get(key);
    if (!set) return;
    this.waiters.delete(key);
    for (const w of set) w.fire();
  }

  wakeAll(): void {
    for (const key of [...this.waiters.keys()]) this.wake(key);
  }

  /** Closes the LISTEN connection (tests, shutdown); waiters fall back to their timers. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    await this.connecting?.catch(() => {});
    const c = this.client;
    this.client = null;
    this.listening = false;
    await c?.end().catch(() => {});
  }

  /** Drops the LISTEN connection as a network failure would (tests of the reconnect path). */
  breakConnectionForTest(): void {
    const c = this.client as (pg.Client & { connection?: { stream?: { destroy(): void } } }) | null;
    c?.connection?.stream?.destroy();
  }

  private ensureListening(): void {
    if (this.stopped || this.client || this.connecting || this.reconnectTimer) return;
    this.connecting = this.connect().finally(() => (this.connecting = null));
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString(), keepAlive: true });
    let failed = false;
    const lost = (err?: unknown) => {
      if (failed) return;
      failed = true;
      if (this.client === client) this.client = null;
      this.listening = false;
      client.removeAllListeners("notification");
      client.end().catch(() => {});
      if (this.stopped) return;
      logger.warn({ err, retryInMs: this.backoff }, "queue LISTEN connection lost; reconnecting");
      this.scheduleReconnect();
    };
    client.on("error", lost);
    client.on("end", () => lost());
    client.on("notification", (n) => {
      if (n.channel !== QUEUE_CHANNEL) return;
      this.stats.notificationsReceived++;
      const key = keyOfPayload(n.payload);
      if (key) this.wake(key);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${QUEUE_CHANNEL}`);
    } catch (err) {
      lost(err);
      return;
    }
    if (this.stopped || failed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.listening = true;
    this.stats.connects++;
    this.backoff = BACKOFF_MIN_MS;
    // Notifications sent while we were away are gone: let every waiter look again.
    if (this.stats.connects > 1) this.wakeAll();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.ensureListening();
    }, delay);
    this.reconnectTimer.unref();
  }
}

const g = globalThis as unknown as { hmsQueueWakeups?: QueueWakeups };

/** The process's one hub. */
export function queueWakeups(): QueueWakeups {
  g.hmsQueueWakeups ??= new QueueWakeups();
  return g.hmsQueueWakeups;
}

/** Stops and forgets the process's hub (tests; a new one starts on next use). */
export async function stopQueueWakeups(): Promise<void> {
  const h = g.hmsQueueWakeups;
  g.hmsQueueWakeups = undefined;
  await h?.stop();
}
