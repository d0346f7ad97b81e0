import type { Queryable } from "../db/pool";
import { z } from "zod";
import { BUCKET_COUNT, percentileFromBuckets, sumBucketsSql } from "../health/latency-buckets";

/**
 * The Traffic page's read (`GET /api/v1/traffic`): per tenant, requests per minute by status
 * class, rate-limited per minute and p50/p95 latency over a range, plus totals per tenant and per
 * service. One statement: GROUPING SETS give the chart points (tenant, bucket), the per-service
 * totals (tenant, service) and the tenant totals (tenant) from one pass over the per-minute
 * roll-ups — never over raw requests (CONVENTIONS.md §10). Measured with 10 services: 7 days in
 * ≈ 0.2 s, 24 hours in ≈ 30 ms, an hour in a few ms.
 */

export const trafficRanges = {
  "15m": { minutes: 15, bucketMinutes: 1 },
  "1h": { minutes: 60, bucketMinutes: 1 },
  "24h": { minutes: 24 * 60, bucketMinutes: 15 },
  "7d": { minutes: 7 * 24 * 60, bucketMinutes: 60 },
} as const;
export type TrafficRange = keyof typeof trafficRanges;
export const TRAFFIC_RANGES = Object.keys(trafficRanges) as TrafficRange[];

const emptyToUndefined = (v: unknown) => (v === "" ? undefined : v);

export const trafficQuery = z.object({
  range: z.preprocess(emptyToUndefined, z.enum(["15m", "1h", "24h", "7d"]).default("1h")),
  tenant: z.preprocess(emptyToUndefined, z.string().max(100).optional()),
  service: z.preprocess(emptyToUndefined, z.string().max(100).optional()),
});
export type TrafficQuery = z.infer<typeof trafficQuery>;

export interface TrafficCounts {
  c2xx: number;
  c3xx: number;
  c4xx: number;
  c5xx: number;
  rateLimited: number;
}

/** One chart bucket. Counts are requests PER MINUTE (a 15-minute bucket's sum divided by 15). */
export interface TrafficPoint extends TrafficCounts {
  /** start of the bucket */
  at: string;
  /** the current bucket, still filling: its rates are over the minutes begun so far */
  partial: boolean;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** Sums over the whole range (counts, not rates). */
export interface TrafficTotals extends TrafficCounts {
  requests: number;
  avgMs: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface TenantTraffic {
  tenant: string;
  totals: TrafficTotals;
  /** busiest first */
  services: (TrafficTotals & { service: string })[];
  /** every bucket of the range, oldest first; buckets without traffic are zeros */
  points: TrafficPoint[];
}

export interface TrafficSeries {
  range: TrafficRange;
  bucketSeconds: number;
  /** start of the first bucket and the server's now */
  from: string;
  to: string;
  /** tenants with traffic in the range, by id */
  tenants: TenantTraffic[];
}

/**
 * $1 tenant (null = all), $2 bucket minutes, $3 bucket count, $4 service (null = all).
 * Two stages: the minutes are first folded into (tenant, service, bucket) rows — the only pass
 * over many rows (7 days × 10 services = 100,800 minutes → 1,680 rows) — and the grouping sets
 * run on those. `level` is GROUPING(service, bucket): 2 = a (tenant, bucket) point, 1 = a
 * (tenant, service) total, 3 = the tenant total. Sums are float8: a week of a busy tenant passes
 * 2^31, and float8 sums are much cheaper than numeric. Uses the (tenant_id, service, minute)
 * primary key for one tenant, the minute index for all.
 */
export const TRAFFIC_SQL = `
WITH b AS (
  SELECT now() AS now, date_bin(make_interval(mins => $2), now(), 'epoch'::timestamptz) AS last_bucket
), m AS (
  SELECT t.tenant_id, t.service, date_bin(make_interval(mins => $2), t.minute, 'epoch'::timestamptz) AS bucket,
         sum(t.c2xx) AS c2xx, sum(t.c3xx) AS c3xx, sum(t.c4xx) AS c4xx, sum(t.c5xx) AS c5xx,
         sum(t.rate_limited) AS rate_limited, sum(t.latency_sum_ms::float8) AS latency_sum_ms,
         ${sumBucketsSql("t.latency_buckets", "float8")} AS latency_buckets
    FROM b JOIN traffic_minutes t
      ON t.minute >= b.last_bucket - make_interval(mins => $2 * ($3 - 1))
     AND ($1::text IS NULL OR t.tenant_id = $1)
     AND ($4::text IS NULL OR t.service = $4)
   GROUP BY 1, 2, 3
)
SELECT b.now, b.last_bucket, g.*
  FROM b LEFT JOIN (
    SELECT m.tenant_id, m.service, m.bucket, GROUPING(m.service, m.bucket) AS level,
           sum(m.c2xx)::float8 AS c2xx, sum(m.c3xx)::float8 AS c3xx, sum(m.c4xx)::float8 AS c4xx,
           sum(m.c5xx)::float8 AS c5xx, sum(m.rate_limited)::float8 AS rate_limited,
           sum(m.latency_sum_ms) AS latency_sum_ms, ${sumBucketsSql("m.latency_buckets", "float8")} AS buckets
      FROM m
     GROUP BY GROUPING SETS ((m.tenant_id, m.bucket), (m.tenant_id, m.service), (m.tenant_id))
  ) g ON true
 ORDER BY g.tenant_id, g.level, g.bucket, g.service`;

interface Row {
  now: Date;
  last_bucket: Date;
  tenant_id: string | null;
  service: string | null;
  bucket: Date | null;
  level: number | null;
  c2xx: number;
  c3xx: number;
  c4xx: number;
  c5xx: number;
  rate_limited: number;
  latency_sum_ms: number;
  buckets: number[];
}

export async function trafficSeries(
  db: Queryable,
  q: { tenant: string | null; range: TrafficRange; service?: string },
): Promise<TrafficSeries> {
  const { minutes, bucketMinutes } = trafficRanges[q.range];
  const count = minutes / bucketMinutes;
  const { rows } = await db.query<Row>(TRAFFIC_SQL, [q.tenant, bucketMinutes, count, q.service ?? null]);
  const now = rows[0]!.now.getTime();
  const lastBucket = rows[0]!.last_bucket.getTime();
  const step = bucketMinutes * 60_000;
  const first = lastBucket - (count - 1) * step;

  const byTenant = new Map<string, { totals?: Row; services: Row[]; points: Map<number, Row> }>();
  for (const r of rows) {
    if (r.tenant_id === null) continue; // the empty LEFT JOIN row: no traffic at all
    let t = byTenant.get(r.tenant_id);
    if (!t) byTenant.set(r.tenant_id, (t = { services: [], points: new Map() }));
    if (r.level === 3) t.totals = r;
    else if (r.level === 1) t.services.push(r);
    else if (r.bucket) t.points.set(r.bucket.getTime(), r);
  }

  const tenants: TenantTraffic[] = [];
  for (const [tenant, t] of byTenant) {
    const points: TrafficPoint[] = [];
    for (let k = 0; k < count; k++) {
      const start = first + k * step;
      const partial = start === lastBucket;
      // The current bucket's rate is over the minutes begun so far, not the whole bucket.
      const perMinutes = partial ? Math.min(bucketMinutes, Math.floor((now - start) / 60_000) + 1) : bucketMinutes;
      const r = t.points.get(start);
      points.push({
        at: new Date(start).toISOString(),
        partial,
        c2xx: rate(r?.c2xx, perMinutes),
        c3xx: rate(r?.c3xx, perMinutes),
        c4xx: rate(r?.c4xx, perMinutes),
        c5xx: rate(r?.c5xx, perMinutes),
        rateLimited: rate(r?.rate_limited, perMinutes),
        p50Ms: r ? percentileFromBuckets(r.buckets.slice(0, BUCKET_COUNT), 0.5) : null,
        p95Ms: r ? percentileFromBuckets(r.buckets.slice(0, BUCKET_COUNT), 0.95) : null,
      });
    }
    tenants.push({
      tenant,
      totals: totalsOf(t.totals),
      services: t.services
        .map((s) => ({ service: s.service!, ...totalsOf(s) }))
        .sort((a, b) => b.requests - a.requests || a.service.localeCompare(b.service)),
      points,
    });
  }
  tenants.sort((a, b) => (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0));

  return {
    range: q.range,
    bucketSeconds: bucketMinutes * 60,
    from: new Date(first).toISOString(),
    to: new Date(now).toISOString(),
    tenants,
  };
}

/** Per-minute rate, to 2 decimals (0.07/min is still visible; more digits are noise). */
function rate(sum: number | undefined, perMinutes: number): number {
  return sum ? Math.round((sum / perMinutes) * 100) / 100 : 0;
}

function totalsOf(r: Row | undefined): TrafficTotals {
  if (!r)
    return { requests: 0, c2xx: 0, c3xx: 0, c4xx: 0, c5xx: 0, rateLimited: 0, avgMs: null, p50Ms: null, p95Ms: null };
  const requests = r.c2xx + r.c3xx + r.c4xx + r.c5xx;
  const buckets = r.buckets.slice(0, BUCKET_COUNT);
  return {
    requests,
    c2xx: r.c2xx,
    c3xx: r.c3xx,
    c4xx: r.c4xx,
    c5xx: r.c5xx,
    rateLimited: r.rate_limited,
    avgMs: requests > 0 ? Math.round(r.latency_sum_ms / requests) : null,
    p50Ms: percentileFromBuckets(buckets, 0.5),
    p95Ms: percentileFromBuckets(buckets, 0.95),
  };
}
