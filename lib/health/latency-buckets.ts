/**
 * Latency histogram buckets of the per-minute health roll-ups (`health_rollups.latency_buckets`).
 * Bucket i counts checks with `LATENCY_BOUNDS_MS[i-1] < latency <= LATENCY_BOUNDS_MS[i]`; the last
 * bucket is open-ended. The array in the database always has exactly `LATENCY_BOUNDS_MS.length`
 * elements (PostgreSQL arrays are 1-based: bucket i here is element i + 1 there).
 */
export const LATENCY_BOUNDS_MS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, Infinity] as const;

export const BUCKET_COUNT = LATENCY_BOUNDS_MS.length;

/** The bucket a latency falls into (negative or NaN latencies count as 0 ms). */
export function bucketIndex(ms: number): number {
  const v = Number.isFinite(ms) && ms > 0 ? ms : ms === Infinity ? Infinity : 0;
  for (let i = 0; i < BUCKET_COUNT; i++) {
    if (v <= LATENCY_BOUNDS_MS[i]!) return i;
  }
  return BUCKET_COUNT - 1;
}

/** A zero-filled histogram with one count at `ms` (or all zeros when `ms` is null). */
export function histogramOf(ms: number | null): number[] {
  const counts = new Array<number>(BUCKET_COUNT).fill(0);
  if (ms !== null) counts[bucketIndex(ms)] = 1;
  return counts;
}

/**
 * The q-quantile (0 < q <= 1) estimated from bucket counts, interpolating linearly inside the
 * bucket the rank falls into (as Prometheus' `histogram_quantile` does). A rank in the open-ended
 * last bucket answers that bucket's lower bound (5000 ms), or `maxMs` when known and larger. When
 * `maxMs` (the largest latency actually seen) is given, the estimate never exceeds it. `null`
 * when there are no counts.
 */
export function percentileFromBuckets(
  counts: readonly (number | null | undefined)[],
  q: number,
  maxMs?: number | null,
): number | null {
  if (!(q > 0 && q <= 1)) throw new RangeError(`quantile must be in (0, 1], got ${q}`);
  const n = counts.map((c) => (typeof c === "number" && c > 0 ? c : 0));
  const total = n.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let cumulative = 0;
  let estimate = 0;
  for (let i = 0; i < BUCKET_COUNT; i++) {
    const c = n[i] ?? 0;
    if (c > 0 && cumulative + c >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
      const upper = LATENCY_BOUNDS_MS[i]!;
      if (upper === Infinity) {
        estimate = typeof maxMs === "number" && maxMs > lower ? maxMs : lower;
      } else {
        estimate = lower + (upper - lower) * ((rank - cumulative) / c);
      }
      break;
    }
    cumulative += c;
  }
  if (typeof maxMs === "number" && maxMs >= 0) estimate = Math.min(estimate, maxMs);
  return Math.round(estimate);
}

/**
 * SQL for the element-wise sum of `latency_buckets` over grouped rows: `ARRAY[sum(col[1]), …]`.
 * `float8` for sums that may pass 2^31 (a week of a busy tenant's traffic); still exact to 2^53.
 */
export function sumBucketsSql(column = "latency_buckets", type: "int" | "float8" = "int"): string {
  const parts = Array.from({ length: BUCKET_COUNT }, (_, i) => `coalesce(sum(${column}[${i + 1}]), 0)::${type}`);
  return `ARRAY[${parts.join(", ")}]`;
}
