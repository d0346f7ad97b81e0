import type pg from "pg";
import { systemPool } from "../db/pool";
import { replicaId } from "../gateway/replica-id";
import { logger } from "../telemetry/logger";
import { leaseTokens, type LeaseResult } from "./bucket-lease";
import { LimitsCache } from "./limits-cache";
import {
  emptyMeter,
  fullBucket,
  leaseSize,
  meterRate,
  meterRecord,
  msUntilTokens,
  refill,
  windowSeconds,
  type Bucket,
  type BucketLimit,
  type RateMeter,
} from "./token-bucket";

/**
 * Per-tenant (and optionally per-service and per-caller) rate limits shared by every replica,
 * decided locally.
 *
 * The shared token bucket in PostgreSQL (`rate_buckets`, bucket-lease.ts) is the truth. Each
 * replica leases batches of tokens from it and spends them on requests synchronously, so the
 * common case is a few arithmetic operations with no database round trip:
 *
 * - when the local tokens drop below half a prefetch, the next batch is leased in the background
 *   (at most one lease in flight per bucket). A prefetch is ~`batchWindowMs` of this replica's own
 *   recent admitted rate (1 … burst/4), so a busy replica holds little more than it is about to
 *   use, and leased tokens unused for `leaseTtlMs` are dropped (no hoarding). They were already
 *   taken from the shared bucket, so dropping them can only under-admit, never over-admit: the
 *   total admitted across replicas is bounded by the shared bucket, `burst + rps × seconds`;
 * - a request that finds no local token queues (FIFO) for the next lease. The lease asks for one
 *   token per waiting request plus the prefetch (up to the whole burst), and its tokens go to the
 *   waiters in order. If waiters remain and the lease got all it asked for, the bucket still holds
 *   tokens: lease again at once. Only a lease that got less than it asked for proves the shared
 *   bucket empty; then the remaining waiters are refused, with Retry-After from the refill time.
 *   So a limit never refuses a request while its bucket holds tokens;
 * - when the shared bucket is empty, the replica remembers until when and rejects locally until
 *   then, so a tenant hammering at 10× its quota costs one lease per batch interval, not one query
 *   per request, and other tenants' requests never queue behind it.
 *
 * A request needs a token from each bucket that applies, taken in the order caller → service →
 * tenant (the narrowest first, so a caller over its own share never spends the tenant's tokens);
 * if a later bucket refuses, the tokens already taken go back to their local buckets.
 *
 * Limits come from LimitsCache (LISTEN/NOTIFY + periodic reload). A tenant without a configured
 * limit (and no HMS_DEFAULT_TENANT_RPS) is unlimited. A caller bucket (`caller:<id>`) exists only
 * while the tenant-wide limit has `perCaller`.
 *
 * Fail-open: when the database cannot be reached (or a lease takes longer than `waitTimeoutMs`),
 * a bucket falls back to a local-only token bucket at the configured rate, so an outage neither
 * blocks traffic that would otherwise be allowed nor lifts the limit entirely; with N replicas the
 * effective limit is then up to N × the configured one. It is logged once per outage, and the
 * database is tried again in the background every few seconds.
 */

export type RatePolicyName = "tenant" | "service" | "caller";

export interface RateDecision {
  allowed: boolean;
  /** a limit applies (false: unlimited, and the other fields are 0) */
  limited: boolean;
  /** the policy reported in the RateLimit headers: "tenant", "service" or "caller" ("" when unlimited) */
  policyName: RatePolicyName | "";
  /** the burst */
  limit: number;
  windowSeconds: number;
  remaining: number;
  resetSeconds: number;
  retryAfterSeconds: number;
}

export interface SharedRateLimiterOptions {
  pool: pg.Pool;
  replicaId: string;
  /** LISTEN for config changes (default true) */
  listen?: boolean;
  /** how much of this replica's recent demand one prefetch covers (default 100 ms) */
  batchWindowMs?: number;
  /** leased tokens unused for this long are dropped (default 1 s) */
  leaseTtlMs?: number;
  /** full reload of the limits (default 30 s) */
  refreshMs?: number;
  /** a lease taking longer than this fails the bucket open, and its waiters with it (default 1 s) */
  waitTimeoutMs?: number;
}

const UNLIMITED: RateDecision = Object.freeze({
  allowed: true,
  limited: false,
  policyName: "",
  limit: 0,
  windowSeconds: 0,
  remaining: 0,
  resetSeconds: 0,
  retryAfterSeconds: 0,
});

/** Time constant of the demand meter that sizes prefetches: quick to follow a surge, quick to forget it. */
const METER_TAU_MS = 250;
/** While failing open, how often one bucket tries the database again. */
const DB_RETRY_MS = 2_000;
/** Buckets unused this long are forgotten (callers come and go); checked at most this often. */
const IDLE_KEY_MS = 60_000;

/** The outcome of asking one bucket for a token: taken, or refused with the wait until one is due. */
type Take = true | { retryMs: number };

interface Waiter {
  resolve: (t: Take) => void;
}

interface KeyState {
  id: string;
  tenantId: string;
  /** the rate_buckets scope: "*", a service name, or `caller:<id>` */
  scope: string;
  policyName: RatePolicyName;
  limit: BucketLimit;
  version: string;
  /** leased tokens not yet spent (whole numbers) */
  tokens: number;
  leasedAt: number;
  /** the shared bucket's level after our last lease: only for the RateLimit header's estimate */
  remoteRemaining: number;
  /** the shared bucket was empty: reject locally until then */
  deniedUntil: number;
  lease: Promise<void> | null;
  /** requests waiting for a token, first come first served */
  queue: Waiter[];
  meter: RateMeter;
  /** non-null while failing open: the local-only bucket that decides instead */
  fallback: Bucket | null;
  retryDbAt: number;
  lastUsed: number;
}

interface Blocked {
  k: KeyState;
  retryMs: number;
}

export class SharedRateLimiter {
  readonly replicaId: string;
  private readonly db: pg.Pool;
  private readonly cache: LimitsCache;
  private readonly batchWindowMs: number;
  private readonly leaseTtlMs: number;
  private readonly waitTimeoutMs: number;
  private readonly keys = new Map<string, KeyState>();
  private starting: Promise<void> | null = null;
  private ready = false;
  private failingOpen = false;
  private sweptAt = 0;

  constructor(opts: SharedRateLimiterOptions) {
    this.db = opts.pool;
    this.replicaId = opts.replicaId;
    this.batchWindowMs = opts.batchWindowMs ?? 100;
    this.leaseTtlMs = opts.leaseTtlMs ?? 1_000;
    this.waitTimeoutMs = opts.waitTimeoutMs ?? 1_000;
    this.cache = new LimitsCache(opts.pool, { listen: opts.listen ?? true, refreshMs: opts.refreshMs ?? 30_000 });
  }

  /** Loads the limits and starts listening. A database that is down does not make this fail. */
  start(): Promise<void> {
    this.starting ??= this.cache.start().then(
      () => {
        this.ready = true;
      },
      (err: unknown) => {
        this.starting = null; // e.g. an invalid default limit in the environment: retried next time
        throw err;
      },
    );
    return this.starting;
  }

  async stop(): Promise<void> {
    await this.starting?.catch(() => {});
    await this.cache.stop();
    this.starting = null;
    this.ready = false;
    this.keys.clear();
  }

  /** Reloads every limit now (the LISTEN and the periodic refresh do this on their own). */
  async refresh(): Promise<void> {
    await this.cache.refresh();
  }

  /**
   * Admits or rejects one request of `tenantId`: it needs a token from the tenant-wide limit, from
   * `service`'s own limit when it has one, and from `caller`'s bucket when the tenant's limit has
   * `perCaller` (`caller` as rateLimitCallerId makes it: `user:<id>` or `service:<name>`).
   * Returns synchronously when decided locally, which is the common case; a Promise only when a
   * lease has to be awaited (first use, or local tokens ran out).
   */
  check(tenantId: string, service?: string, caller?: string): RateDecision | Promise<RateDecision> {
    if (!this.ready) return this.start().then(() => this.decideFor(tenantId, service, caller));
    return this.decideFor(tenantId, service, caller);
  }

  private decideFor(
    tenantId: string,
    service: string | undefined,
    caller: string | undefined,
  ): RateDecision | Promise<RateDecision> {
    const now = performance.now();
    this.sweep(now);
    const tenantLimit = this.cache.get(tenantId, "*");
    const serviceLimit = service ? this.cache.get(tenantId, service) : undefined;
    const keys: KeyState[] = [];
    if (caller && tenantLimit?.perCaller) {
      keys.push(this.keyFor(tenantId, `caller:${caller}`, "caller", tenantLimit.perCaller, tenantLimit.version, now));
    }
    if (service && serviceLimit) {
      keys.push(this.keyFor(tenantId, service, "service", serviceLimit, serviceLimit.version, now));
    }
    if (tenantLimit) keys.push(this.keyFor(tenantId, "*", "tenant", tenantLimit, tenantLimit.version, now));
    if (keys.length === 0) return UNLIMITED;
    return this.decide(keys, now);
  }

  /** The state of one bucket, reset when its limit changed (a new limit also resets the shared row). */
  private keyFor(
    tenantId: string,
    scope: string,
    policyName: RatePolicyName,
    limit: BucketLimit,
    version: string,
    now: number,
  ): KeyState {
    const id = `${tenantId}\n${scope}`;
    const known = this.keys.get(id);
    if (known && known.version === version) {
      known.lastUsed = now;
      return known;
    }
    // A replaced state keeps serving its own waiters through its own lease; new requests use this one.
    const k: KeyState = {
      id,
      tenantId,
      scope,
      policyName,
      limit: { rps: limit.rps, burst: limit.burst },
      version,
      tokens: 0,
      leasedAt: now,
      remoteRemaining: limit.burst,
      deniedUntil: 0,
      lease: null,
      queue: [],
      meter: emptyMeter(now),
      fallback: null,
      retryDbAt: 0,
      lastUsed: now,
    };
    this.keys.set(id, k);
    return k;
  }

  /** Forgets buckets nobody used for IDLE_KEY_MS (their leased tokens are long stale anyway). */
  private sweep(now: number): void {
    if (now - this.sweptAt < IDLE_KEY_MS) return;
    this.sweptAt = now;
    for (const [id, k] of this.keys) {
      if (now - k.lastUsed > IDLE_KEY_MS && !k.lease && k.queue.length === 0) this.keys.delete(id);
    }
  }

  private decide(keys: KeyState[], now: number): RateDecision | Promise<RateDecision> {
    const blocked: Blocked[] = [];
    let allLocal = true;
    for (const k of keys) {
      const s = this.localState(k, now);
      if (s === "wait") allLocal = false;
      else if (s !== "token") blocked.push({ k, retryMs: s });
    }
    // A request needs a token from every bucket: take none unless all can give one.
    if (blocked.length > 0) return rejection(blocked);
    if (allLocal) {
      for (const k of keys) this.spend(k, now);
      return this.admission(keys);
    }
    return this.acquireAll(keys);
  }

  /**
   * What one bucket can do for a request right now, without waiting: "token" (one is here),
   * "wait" (queue for a lease), or a number: refused, retry after that many ms.
   */
  private localState(k: KeyState, now: number): "token" | "wait" | number {
    if (k.fallback) this.retryDatabase(k, now);
    if (k.fallback) {
      k.fallback = refill(k.fallback, k.limit, now);
      return k.fallback.tokens >= 1 ? "token" : msUntilTokens(k.fallback.tokens, 1, k.limit.rps);
    }
    if (k.tokens > 0 && now - k.leasedAt > this.leaseTtlMs) k.tokens = 0; // stale: already counted, let go
    if (k.queue.length > 0) return "wait"; // first come, first served
    if (k.tokens >= 1) return "token";
    if (k.deniedUntil > now) return k.deniedUntil - now;
    return "wait";
  }

  /** Takes a token from each bucket in turn, waiting where needed; a refusal returns those taken. */
  private async acquireAll(keys: KeyState[]): Promise<RateDecision> {
    const taken: KeyState[] = [];
    for (const k of keys) {
      const t0 = this.acquire(k);
      const t = t0 instanceof Promise ? await t0 : t0;
      if (t !== true) {
        for (const h of taken) this.giveBack(h);
        return rejection([{ k, retryMs: t.retryMs }]);
      }
      taken.push(k);
    }
    return this.admission(keys);
  }

  private acquire(k: KeyState): Take | Promise<Take> {
    const now = performance.now();
    const s = this.localState(k, now);
    if (s === "token") {
      this.spend(k, now);
      return true;
    }
    if (s !== "wait") return { retryMs: s };
    return new Promise<Take>((resolve) => {
      k.queue.push({ resolve });
      if (!k.lease) void this.startLease(k);
    });
  }

  private spend(k: KeyState, now: number): void {
    k.meter = meterRecord(k.meter, now, METER_TAU_MS);
    if (k.fallback) {
      k.fallback = { tokens: k.fallback.tokens - 1, at: k.fallback.at };
      return;
    }
    k.tokens -= 1;
    // Prefetch: the next batch arrives before this one runs out, so requests rarely wait.
    if (!k.lease && k.deniedUntil <= now && k.tokens < this.prefetchFor(k, now) / 2) void this.startLease(k);
  }

  /** A token taken for a request that another bucket then refused: back to this replica's bucket. */
  private giveBack(k: KeyState): void {
    if (k.fallback) k.fallback = { tokens: Math.min(k.limit.burst, k.fallback.tokens + 1), at: k.fallback.at };
    else k.tokens += 1;
    this.serveWaiters(k, performance.now());
  }

  /** ~batchWindowMs of this replica's recent admitted rate, 1 … burst/4. */
  private prefetchFor(k: KeyState, now: number): number {
    return leaseSize({
      demandRps: meterRate(k.meter, now, METER_TAU_MS),
      windowMs: this.batchWindowMs,
      burst: k.limit.burst,
    });
  }

  /**
   * At most one lease in flight per bucket, sized for the waiters plus the prefetch; it never
   * rejects (a failure or a lease slower than waitTimeoutMs means failing open). When it lands, its
   * tokens go to the waiters in order, then: more waiters and a full grant → lease again at once;
   * more waiters and a short grant (the shared bucket is empty) → they are refused.
   */
  private startLease(k: KeyState): Promise<void> {
    if (k.lease) return k.lease;
    const requested = leaseSize({
      demandRps: meterRate(k.meter, performance.now(), METER_TAU_MS),
      windowMs: this.batchWindowMs,
      burst: k.limit.burst,
      waiting: k.queue.length,
    });
    const timer = setTimeout(() => {
      if (k.lease !== lease) return;
      this.failOpen(k, new Error(`rate limit lease took longer than ${this.waitTimeoutMs} ms`));
      this.afterLease(k, false);
    }, this.waitTimeoutMs);
    timer.unref();
    const lease: Promise<void> = (async () => {
      let result: LeaseResult | null = null;
      try {
        result = await leaseTokens(this.db, k, k.limit, requested);
      } catch (err) {
        this.failOpen(k, err);
      } finally {
        clearTimeout(timer);
        k.lease = null;
      }
      if (result) this.onLease(k, result, requested);
      this.afterLease(k, result !== null && result.granted >= requested);
    })();
    // (the lease's body goes on only after its first await, so this comes before its `finally`)
    k.lease = lease;
    return lease;
  }

  private onLease(k: KeyState, r: LeaseResult, requested: number): void {
    const now = performance.now();
    if (this.failingOpen) {
      this.failingOpen = false;
      logger.info({ replicaId: this.replicaId }, "rate limits: database reachable again; shared buckets resumed");
    }
    k.fallback = null;
    k.remoteRemaining = r.remaining;
    if (r.granted > 0) {
      k.tokens = (now - k.leasedAt > this.leaseTtlMs ? 0 : k.tokens) + r.granted;
      k.leasedAt = now;
    }
    if (r.granted >= requested) {
      k.deniedUntil = 0;
    } else {
      // Empty: ask again once a batch's worth (~batchWindowMs of the rate, at least one token) has
      // refilled. Until then requests beyond the local tokens are refused locally.
      const batch = Math.min(requested, Math.max(1, Math.ceil((k.limit.rps * this.batchWindowMs) / 1000)));
      k.deniedUntil =
        now + Math.max(msUntilTokens(r.remaining, 1, k.limit.rps), msUntilTokens(r.remaining, batch, k.limit.rps));
    }
  }

  /** Tokens to the waiters in order; then lease again for the rest, or refuse them if the bucket is empty. */
  private afterLease(k: KeyState, fullGrant: boolean): void {
    const now = performance.now();
    this.serveWaiters(k, now);
    if (k.queue.length === 0) return;
    if (!k.fallback && fullGrant) {
      if (!k.lease) void this.startLease(k);
      return;
    }
    if (k.lease && !k.fallback) return; // a lease is on its way (e.g. the background retry): it decides
    const retryMs = k.fallback
      ? msUntilTokens(k.fallback.tokens, 1, k.limit.rps)
      : Math.max(k.deniedUntil - now, msUntilTokens(0, 1, k.limit.rps));
    const refused = k.queue.splice(0);
    for (const w of refused) w.resolve({ retryMs });
  }

  private serveWaiters(k: KeyState, now: number): void {
    let served = 0;
    while (served < k.queue.length) {
      if (k.fallback) {
        k.fallback = refill(k.fallback, k.limit, now);
        if (k.fallback.tokens < 1) break;
      } else if (k.tokens < 1) break;
      this.spendQuietly(k, now);
      served++;
    }
    if (served === 0) return;
    const ready = k.queue.splice(0, served);
    for (const w of ready) w.resolve(true);
  }

  /** spend() without the prefetch: used while handing a lease's tokens to waiters. */
  private spendQuietly(k: KeyState, now: number): void {
    k.meter = meterRecord(k.meter, now, METER_TAU_MS);
    if (k.fallback) k.fallback = { tokens: k.fallback.tokens - 1, at: k.fallback.at };
    else k.tokens -= 1;
  }

  private failOpen(k: KeyState, err: unknown): void {
    if (!this.failingOpen) {
      this.failingOpen = true;
      logger.error(
        { err, replicaId: this.replicaId },
        "rate limits: database unreachable; failing open with local-only buckets at the configured rates",
      );
    }
    if (k.fallback) return;
    const now = performance.now();
    k.fallback = fullBucket(k.limit, now);
    k.tokens = 0;
    k.deniedUntil = 0;
    k.retryDbAt = now + DB_RETRY_MS;
  }

  /** While failing open, one background lease every DB_RETRY_MS finds out whether the database is back. */
  private retryDatabase(k: KeyState, now: number): void {
    if (k.lease || now < k.retryDbAt) return;
    k.retryDbAt = now + DB_RETRY_MS;
    void this.startLease(k);
  }

  /** The allowed decision, reporting the bucket with the fewest tokens left. */
  private admission(keys: KeyState[]): RateDecision {
    const left = (k: KeyState) =>
      k.fallback ? k.fallback.tokens : Math.min(k.limit.burst, k.tokens + k.remoteRemaining);
    const k = keys.reduce((a, b) => (left(b) < left(a) ? b : a));
    const remaining = left(k);
    return {
      allowed: true,
      limited: true,
      policyName: k.policyName,
      limit: k.limit.burst,
      windowSeconds: windowSeconds(k.limit),
      remaining: Math.max(0, Math.floor(remaining)),
      resetSeconds: Math.ceil(msUntilTokens(remaining, k.limit.burst, k.limit.rps) / 1000),
      retryAfterSeconds: 0,
    };
  }
}

/** The rejection, reporting the bucket that frees up last. */
function rejection(blocked: Blocked[]): RateDecision {
  const worst = blocked.reduce((a, b) => (b.retryMs > a.retryMs ? b : a));
  const retryAfterSeconds = Math.max(1, Math.ceil(worst.retryMs / 1000));
  return {
    allowed: false,
    limited: true,
    policyName: worst.k.policyName,
    limit: worst.k.limit.burst,
    windowSeconds: windowSeconds(worst.k.limit),
    remaining: 0,
    // The draft wants Retry-After no earlier than the end of the effective window: make them equal.
    resetSeconds: retryAfterSeconds,
    retryAfterSeconds,
  };
}

const g = globalThis as unknown as { hmsRateLimiter?: SharedRateLimiter };

/**
 * The process-wide limiter, on globalThis because the Next bundle and a custom server load separate
 * copies of this module and must share one set of leases. Created and started on first use.
 */
export function rateLimiter(): SharedRateLimiter {
  if (!g.hmsRateLimiter) {
    g.hmsRateLimiter = new SharedRateLimiter({ pool: systemPool(), replicaId: replicaId() });
    void g.hmsRateLimiter.start().catch((err: unknown) => logger.error({ err }, "rate limits: start failed"));
  }
  return g.hmsRateLimiter;
}
