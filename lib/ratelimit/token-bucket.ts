/**
 * Token-bucket arithmetic, pure and clock-free: every function takes the time (`now`, in
 * milliseconds on any monotonic clock) as an argument, so the tests can state exact timestamps.
 *
 * A bucket holds at most `burst` tokens and gains `rps` tokens per second; a request spends one.
 * The shared bucket in PostgreSQL (bucket-lease.ts) follows the same rules in SQL; these
 * functions serve the local side: the fail-open bucket, lease sizing and demand measurement.
 */

export interface BucketLimit {
  /** tokens added per second */
  rps: number;
  /** capacity: the most requests admitted at once after a quiet spell */
  burst: number;
}

export interface Bucket {
  tokens: number;
  /** when `tokens` was last brought up to date */
  at: number;
}

export function fullBucket(limit: BucketLimit, now: number): Bucket {
  return { tokens: limit.burst, at: now };
}

/** The bucket at `now`: refilled by the elapsed time, capped at `burst`. Time never runs backwards. */
export function refill(b: Bucket, limit: BucketLimit, now: number): Bucket {
  if (now <= b.at) return b;
  return { tokens: Math.min(limit.burst, b.tokens + ((now - b.at) / 1000) * limit.rps), at: now };
}

/** Takes `n` tokens if the bucket has them at `now`; otherwise leaves it as it is (refilled). */
export function tryTake(b: Bucket, limit: BucketLimit, now: number, n = 1): { bucket: Bucket; taken: boolean } {
  const r = refill(b, limit, now);
  if (r.tokens < n) return { bucket: r, taken: false };
  return { bucket: { tokens: r.tokens - n, at: r.at }, taken: true };
}

/** Milliseconds until a bucket holding `tokens` has `needed`, at `rps` (0 when it already has them). */
export function msUntilTokens(tokens: number, needed: number, rps: number): number {
  return tokens >= needed ? 0 : ((needed - tokens) / rps) * 1000;
}

/**
 * The window advertised in `RateLimit-Policy`: the seconds an empty bucket takes to fill again,
 * so "q=burst;w=window" reads as "up to `burst` requests, renewed over `window` seconds". Whole
 * seconds, at least 1 (the draft allows no sub-second windows).
 */
export function windowSeconds(limit: BucketLimit): number {
  return Math.max(1, Math.ceil(limit.burst / limit.rps));
}

/**
 * How many tokens a replica asks the shared bucket for at once: one token for each request already
 * waiting, plus a prefetch of about `windowMs` of its own recent admitted rate (at least 1, at most
 * a quarter of the burst), all capped at the burst. So a lease grows with demand up to the whole
 * burst when that many requests are waiting, while a replica that is merely busy hoards little, and
 * an idle replica cannot sit on tokens another one needs.
 */
export function leaseSize(opts: { demandRps: number; windowMs: number; burst: number; waiting?: number }): number {
  const burst = Math.max(1, Math.floor(opts.burst));
  const prefetch = Math.min(
    Math.max(1, Math.floor(burst / 4)),
    Math.max(1, Math.ceil((opts.demandRps * opts.windowMs) / 1000)),
  );
  return Math.min(burst, Math.max(0, Math.floor(opts.waiting ?? 0)) + prefetch);
}

/**
 * An exponentially decaying event counter: each event adds 1, and the sum decays with time
 * constant `tauMs`, so `meterRate` is the recent rate (events per second) weighted towards the last
 * `tauMs`. Constant memory and no timers, unlike a sliding window of timestamps.
 */
export interface RateMeter {
  value: number;
  at: number;
}

export const emptyMeter = (now: number): RateMeter => ({ value: 0, at: now });

function decayed(m: RateMeter, now: number, tauMs: number): number {
  return now <= m.at ? m.value : m.value * Math.exp(-(now - m.at) / tauMs);
}

export function meterRecord(m: RateMeter, now: number, tauMs: number, n = 1): RateMeter {
  return { value: decayed(m, now, tauMs) + n, at: Math.max(m.at, now) };
}

export function meterRate(m: RateMeter, now: number, tauMs: number): number {
  return (decayed(m, now, tauMs) * 1000) / tauMs;
}
