import type pg from "pg";
import { systemPool } from "../db/pool";
import { replicaId } from "../gateway/replica-id";
import { logger } from "../telemetry/logger";
import { leaseTokens, type LeaseResult } from "./bucket-lease";
import { LimitsCache, type ConfiguredLimit } from "./limits-cache";
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
  type RateMeter,
} from "./token-bucket";

/**
 * Per-tenant (and optionally per-service) rate limits shared by every replica, decided locally.
 *
 * The shared token bucket in PostgreSQL (`rate_buckets`, bucket-lease.ts) is the truth. Each
 * replica leases small batches of tokens from it and spends them on requests synchronously, so the
 * common case is a few arithmetic operations with no database round trip:
 *
 * - when the local tokens drop below half a batch, the next batch is leased in the background (at
 *   most one lease in flight per bucket); only a request that finds no local token waits for it;
 * - a batch is ~`batchWindowMs` of this replica's own recent admitted rate (1 … burst/4), so a
 *   replica holds little more than it is about to use, and leased tokens unused for `leaseTtlMs`
 *   are dropped. They were already taken from the shared bucket, so dropping them can only
 *   under-admit, never over-admit: the total admitted across replicas is bounded by the shared
 *   bucket, `burst + rps × seconds`;
 * - when the shared bucket is empty, the replica remembers until when and rejects locally until
 *   then, so a tenant hammering at 10× its quota costs one lease per batch interval, not one query
 *   per request, and other tenants' requests never queue behind it.
 *
 * Limits come from LimitsCache (LISTEN/NOTIFY + periodic reload). A tenant without a configured
 * limit (and no HMS_DEFAULT_TENANT_RPS) is unlimited.
 *
 * Fail-open: when the database cannot be reached (or a waiting request would wait longer than
 * `waitTimeoutMs`), a bucket falls back to a local-only token bucket at the configured rate, so an
 * outage neither blocks traffic that would otherwise be allowed nor lifts the limit entirely; with N
 * replicas the effective limit is then up to N × the configured one. It is logged once per outage,
 * and the database is tried again in the background every few seconds.
 */

export interface RateDecision {
  allowed: boolean;
  /** a limit applies (false: unlimited, and the other fields are 0) */
  limited: boolean;
  /** the policy reported in the RateLimit headers: "tenant" or "service" */
  policyName: string;
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
  /** how much of this replica's recent demand one lease covers (default 100 ms) */
  batchWindowMs?: number;
  /** leased tokens unused for this long are dropped (default 1 s) */
  leaseTtlMs?: number;
  /** full reload of the limits (default 30 s) */
  refreshMs?: number;
  /** the longest a request waits for a lease before failing open (default 1 s) */
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

/** Time constant of the demand meter that sizes batches: quick to follow a surge, quick to forget it. */
const METER_TAU_MS = 250;
/** A request re-checks at most this many times after waiting for leases (each wait ends in a lease or a denial). */
const MAX_WAITS = 3;
/** While failing open, how often one bucket tries the database again. */
const DB_RETRY_MS = 2_000;

interface KeyState {
  tenantId: string;
  scope: string;
  policyName: string;
  limit: ConfiguredLimit;
  /** leased tokens not yet spent (whole numbers) */
  tokens: number;
  leasedAt: number;
  /** the shared bucket's level after our last lease: only for the RateLimit header's estimate */
  remoteRemaining: number;
  /** the shared bucket was empty: reject locally until then */
  deniedUntil: number;
  lease: Promise<void> | null;
  /** requests waiting for `lease` (they size it) */
  waiting: number;
  meter: RateMeter;
  /** non-null while failing open: the local-only bucket that decides instead */
  fallback: Bucket | null;
  retryDbAt: number;
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
   * Admits or rejects one request of `tenantId` (and of `service`, which needs a token from its own
   * limit as well as from the tenant-wide one). Returns synchronously when decided locally, which is
   * the common case; a Promise only when a lease has to be awaited (first use, or tokens ran out).
   */
  check(tenantId: string, service?: string): RateDecision | Promise<RateDecision> {
    if (!this.ready) return this.start().then(() => this.decideFor(tenantId, service));
    return this.decideFor(tenantId, service);
  }

  private decideFor(tenantId: string, service: string | undefined): RateDecision | Promise<RateDecision> {
    const tenantKey = this.keyFor(tenantId, "*");
    const serviceKey = service ? this.keyFor(tenantId, service) : null;
    const keys = [tenantKey, serviceKey].filter((k): k is KeyState => k !== null);
    if (keys.length === 0) return UNLIMITED;
    return this.decide(keys, 0);
  }

  /** The state of one bucket, reset when its limit changed (a new limit also resets the shared row). */
  private keyFor(tenantId: string, scope: string): KeyState | null {
    const id = `${tenantId}\n${scope}`;
    const limit = this.cache.get(tenantId, scope);
    const known = this.keys.get(id);
    if (!limit) {
      if (known) this.keys.delete(id);
      return null;
    }
    if (known && known.limit.version === limit.version) return known;
    const now = performance.now();
    const k: KeyState = {
      tenantId,
      scope,
      policyName: scope === "*" ? "tenant" : "service",
      limit,
      tokens: 0,
      leasedAt: now,
      remoteRemaining: limit.burst,
      deniedUntil: 0,
      lease: null,
      waiting: 0,
      meter: emptyMeter(now),
      fallback: null,
      retryDbAt: 0,
    };
    this.keys.set(id, k);
    return k;
  }

  private decide(keys: KeyState[], waits: number): RateDecision | Promise<RateDecision> {
    const now = performance.now();
    const blocked: Blocked[] = [];
    const needLease: KeyState[] = [];
    for (const k of keys) {
      if (k.fallback) this.retryDatabase(k, now);
      if (k.fallback) {
        k.fallback = refill(k.fallback, k.limit, now);
        if (k.fallback.tokens < 1) blocked.push({ k, retryMs: msUntilTokens(k.fallback.tokens, 1, k.limit.rps) });
        continue;
      }
      if (k.tokens > 0 && now - k.leasedAt > this.leaseTtlMs) k.tokens = 0; // stale: already counted, let go
      if (k.tokens >= 1) continue;
      if (k.deniedUntil > now) blocked.push({ k, retryMs: k.deniedUntil - now });
      else needLease.push(k);
    }
    // A request needs a token from every bucket: take none unless all have one.
    if (blocked.length > 0) return rejection(blocked);
    if (needLease.length > 0) {
      if (waits >= MAX_WAITS) return rejection(needLease.map((k) => ({ k, retryMs: 1_000 / k.limit.rps })));
      return this.waitForLeases(needLease).then(() => this.decide(keys, waits + 1));
    }
    for (const k of keys) this.spend(k, now);
    return this.admission(keys);
  }

  private spend(k: KeyState, now: number): void {
    k.meter = meterRecord(k.meter, now, METER_TAU_MS);
    if (k.fallback) {
      k.fallback = { tokens: k.fallback.tokens - 1, at: k.fallback.at };
      return;
    }
    k.tokens -= 1;
    // Prefetch: the next batch arrives before this one runs out, so requests rarely wait.
    if (!k.lease && k.tokens < this.batchFor(k, now) / 2) void this.startLease(k);
  }

  private batchFor(k: KeyState, now: number): number {
    return leaseSize({
      demandRps: meterRate(k.meter, now, METER_TAU_MS),
      windowMs: this.batchWindowMs,
      burst: k.limit.burst,
      waiting: k.waiting,
    });
  }

  /** At most one lease in flight per bucket; it never rejects (a failure means failing open). */
  private startLease(k: KeyState): Promise<void> {
    if (k.lease) return k.lease;
    const requested = this.batchFor(k, performance.now());
    const lease = (async () => {
      try {
        this.onLease(k, await leaseTokens(this.db, k, k.limit, requested), requested);
      } catch (err) {
        this.failOpen(k, err);
      } finally {
        k.lease = null;
      }
    })();
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
      k.deniedUntil = 0;
    } else {
      // Empty: ask again once the batch we wanted has refilled. Until then rejections are local.
      k.deniedUntil = now + msUntilTokens(r.remaining, requested, k.limit.rps);
    }
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

  /** Requests with no local token wait for the leases, but never longer than waitTimeoutMs. */
  private async waitForLeases(keys: KeyState[]): Promise<void> {
    for (const k of keys) k.waiting++;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = await Promise.race([
        Promise.all(keys.map((k) => this.startLease(k))).then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), this.waitTimeoutMs);
        }),
      ]);
      if (timedOut) {
        for (const k of keys) if (k.lease) this.failOpen(k, new Error("rate limit lease timed out"));
      }
    } finally {
      clearTimeout(timer);
      for (const k of keys) k.waiting--;
    }
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
