import pg from "pg";
import { z } from "zod";
import { pool } from "../db/pool";
import { AppError } from "../http/app-error";
import { logger } from "../telemetry/logger";
import { CLAIMS_CHANNEL } from "./claim-transitions";

/**
 * One LISTEN connection per process for claim status changes (`NOTIFY hms_claims`, sent by
 * transitionClaim at commit), fanned out to the live-timeline streams of this process by claim
 * id. A notification carries no data a subscriber trusts: it only says "claim X changed", and
 * each subscriber re-reads the claim in its own tenant-scoped transaction (row-level security
 * applies), so a forged or foreign notification can wake a stream but never put data into it.
 *
 * The connection is opened on the first subscription. When it drops it reconnects with back-off,
 * and then wakes every subscriber (`null`) so each catches up on whatever it missed meanwhile.
 */
export const claimNotification = z.object({
  tenant: z.string(),
  claimId: z.string(),
  status: z.string(),
  at: z.string(),
});
export type ClaimNotification = z.infer<typeof claimNotification>;

/** Called with the notification, or null = "you may have missed something; re-read". */
export type ClaimListener = (n: ClaimNotification | null) => void;

/** Live streams one process serves at most; beyond it a new stream is refused with 503. */
export const MAX_SUBSCRIBERS = 10_000;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;

export class ClaimEventsHub {
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelay = RECONNECT_MIN_MS;
  private everConnected = false;
  private stopped = false;
  private readonly subs = new Map<string, Set<ClaimListener>>();
  private count = 0;

  constructor(private readonly connectionOptions: () => pg.ClientConfig) {}

  get subscriberCount(): number {
    return this.count;
  }

  get listening(): boolean {
    return this.client !== null && this.connecting === null;
  }

  /**
   * Registers `listener` for `claimId` and resolves once the LISTEN is in place, so a change
   * committed after this resolves is never missed. Returns the unsubscribe function.
   */
  async subscribe(claimId: string, listener: ClaimListener): Promise<() => void> {
    if (this.stopped) throw new AppError("dependency_unavailable", "Live updates are shutting down.");
    if (this.count >= MAX_SUBSCRIBERS) {
      throw new AppError("dependency_unavailable", "Too many live streams on this server; retry shortly.", {
        headers: { "Retry-After": "10" },
      });
    }
    let set = this.subs.get(claimId);
    if (!set) this.subs.set(claimId, (set = new Set()));
    set.add(listener);
    this.count++;
    let done = false;
    const unsubscribe = () => {
      if (done) return;
      done = true;
      this.count--;
      const s = this.subs.get(claimId);
      s?.delete(listener);
      if (s?.size === 0) this.subs.delete(claimId);
    };
    try {
      await this.ready();
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  /** Resolves when the LISTEN connection is up (connecting it if needed). */
  async ready(): Promise<void> {
    if (this.client && !this.connecting) return;
    this.connecting ??= this.connect().finally(() => (this.connecting = null));
    await this.connecting;
  }

  private async connect(): Promise<void> {
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    const client = new pg.Client(this.connectionOptions());
    const lost = (err?: unknown) => {
      if (this.client !== client) return;
      this.client = null;
      client.removeAllListeners("notification");
      void client.end().catch(() => {});
      if (this.stopped) return;
      if (err) logger.warn({ err }, "claim events: LISTEN connection lost; reconnecting");
      this.scheduleReconnect();
    };
    client.on("error", lost);
    client.on("end", () => lost());
    client.on("notification", (n) => {
      if (n.channel !== CLAIMS_CHANNEL) return;
      let parsed: ClaimNotification;
      try {
        parsed = claimNotification.parse(JSON.parse(n.payload ?? ""));
      } catch {
        return;
      }
      this.dispatch(parsed.claimId, parsed);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CLAIMS_CHANNEL}`);
    } catch (err) {
      void client.end().catch(() => {});
      if (this.everConnected) this.scheduleReconnect();
      throw err;
    }
    this.client = client;
    const wasConnected = this.everConnected;
    this.everConnected = true;
    this.reconnectDelay = RECONNECT_MIN_MS;
    // Changes committed while nobody listened were not heard: every stream re-reads.
    if (wasConnected) for (const id of this.subs.keys()) this.dispatch(id, null);
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer || this.subs.size === 0) return;
    const wait = this.reconnectDelay;
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.ready().catch(() => {});
    }, wait);
    this.reconnectTimer.unref();
  }

  private dispatch(claimId: string, n: ClaimNotification | null): void {
    const set = this.subs.get(claimId);
    if (!set) return;
    for (const l of [...set]) {
      try {
        l(n);
      } catch (err) {
        logger.warn({ err, claimId }, "claim events: a subscriber failed");
      }
    }
  }

  /** Closes the LISTEN connection (tests, shutdown). Subscribers are not called again. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.connecting?.catch(() => {});
    const c = this.client;
    this.client = null;
    this.subs.clear();
    this.count = 0;
    await c?.end().catch(() => {});
  }
}

const globalForHub = globalThis as unknown as { hmsClaimEventsHub?: ClaimEventsHub };

/** The process's hub (created on first use, on the app role's connection settings). */
export function claimEventsHub(): ClaimEventsHub {
  globalForHub.hmsClaimEventsHub ??= new ClaimEventsHub(() => {
    const o = pool().options;
    return {
      connectionString: o.connectionString,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      application_name: "hms-claim-events",
    } as pg.ClientConfig;
  });
  return globalForHub.hmsClaimEventsHub;
}

/** Stops and forgets the process's hub (tests). */
export async function stopClaimEventsHub(): Promise<void> {
  const h = globalForHub.hmsClaimEventsHub;
  delete globalForHub.hmsClaimEventsHub;
  await h?.stop();
}
