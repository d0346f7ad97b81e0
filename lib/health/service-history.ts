import type { Queryable } from "../db/pool";
import { z } from "zod";
import type { Principal } from "../auth/principal";
import { AppError } from "../http/app-error";
import { BUCKET_COUNT, percentileFromBuckets, sumBucketsSql } from "./latency-buckets";

/**
 * One service's health history (from per-minute roll-ups) and its latest failed checks, for the
 * service page's chart and "recent failures" table. Tenant-scoped like the registry: a service
 * of another tenant is "not found" (404), never 403, so names are not confirmed across tenants.
 */

export interface ServiceRef {
  id: string;
  tenantId: string;
  name: string;
}

function notFound(): AppError {
  return new AppError("not_found", "No such service.");
}

/**
 * Finds the service `name` the caller may read. Tenant-bound callers: their tenant only
 * (`?tenant=` naming another tenant is a 404 as well). Global admins: `?tenant=`, or without it
 * the one service of that name (400 when several tenants have one).
 */
export async function findServiceForRead(
  db: Queryable,
  p: Principal,
  name: string,
  tenantParam: string | undefined,
): Promise<ServiceRef> {
  let tenant: string | null;
  if (p.tenantId !== null) {
    if (tenantParam !== undefined && tenantParam !== p.tenantId) throw notFound();
    tenant = p.tenantId;
  } else if (p.role === "admin") {
    tenant = tenantParam ?? null;
  } else {
    throw notFound();
  }
  const { rows } = await db.query<ServiceRef>(
    `SELECT id, tenant_id AS "tenantId", name FROM services
      WHERE name = $1 AND ($2::text IS NULL OR tenant_id = $2) ORDER BY tenant_id LIMIT 2`,
    [name, tenant],
  );
  if (rows.length === 0) throw notFound();
  if (rows.length > 1) {
    throw new AppError("invalid_request", `Several tenants have a service named "${name}"; name one with ?tenant=.`);
  }
  return rows[0]!;
}

const emptyToUndefined = (v: unknown) => (v === "" ? undefined : v);

export const historyRanges = {
  "15m": { minutes: 15, bucketMinutes: 1 },
  "1h": { minutes: 60, bucketMinutes: 1 },
  "24h": { minutes: 24 * 60, bucketMinutes: 5 },
  "7d": { minutes: 7 * 24 * 60, bucketMinutes: 60 },
} as const;
export type HistoryRange = keyof typeof historyRanges;

export const historyQuery = z.object({
  range: z.preprocess(emptyToUndefined, z.enum(["15m", "1h", "24h", "7d"]).default("1h")),
  tenant: z.preprocess(emptyToUndefined, z.string().max(100).optional()),
});
export const failuresQuery = z.object({
  tenant: z.preprocess(emptyToUndefined, z.string().max(100).optional()),
});

export interface HistoryPoint {
  /** start of the bucket (a minute for 15m and 1h, 5 minutes for 24h, an hour for 7d) */
  minute: string;
  passes: number;
  warns: number;
  fails: number;
  p95LatencyMs: number | null;
}

export interface ServiceHistory {
  service: string;
  tenant: string;
  range: HistoryRange;
  bucketSeconds: number;
  points: HistoryPoint[];
}

/**
 * Every bucket of the range, oldest first, the current (partial) bucket last; buckets without
 * checks are zero with a null p95, so a chart's x axis is continuous. 15 / 60 / 288 / 168 points.
 */
export async function serviceHistory(db: Queryable, svc: ServiceRef, range: HistoryRange): Promise<ServiceHistory> {
  const { minutes, bucketMinutes } = historyRanges[range];
  const count = minutes / bucketMinutes;
  const { rows } = await db.query<{
    bucket: Date;
    passes: number;
    warns: number;
    fails: number;
    buckets: number[];
    max_ms: number | null;
    last_bucket: Date;
  }>(
    `WITH bounds AS (
       SELECT date_bin(make_interval(mins => $2), now(), 'epoch'::timestamptz) AS last_bucket
     )
     SELECT date_bin(make_interval(mins => $2), h.minute, 'epoch'::timestamptz) AS bucket,
            sum(h.passes)::int AS passes, sum(h.warns)::int AS warns, sum(h.fails)::int AS fails,
            ${sumBucketsSql("h.latency_buckets")} AS buckets, max(h.latency_max_ms) AS max_ms,
            b.last_bucket
       FROM bounds b
       LEFT JOIN health_rollups h
         ON h.service_id = $1
        AND h.minute >= b.last_bucket - make_interval(mins => $2 * ($3 - 1))
      GROUP BY 1, b.last_bucket
      ORDER BY 1`,
    [svc.id, bucketMinutes, count],
  );
  const step = bucketMinutes * 60_000;
  const lastBucket = rows[0]!.last_bucket.getTime();
  const byStart = new Map<number, (typeof rows)[number]>();
  for (const r of rows) if (r.bucket) byStart.set(r.bucket.getTime(), r);
  const points: HistoryPoint[] = [];
  for (let k = count - 1; k >= 0; k--) {
    const start = lastBucket - k * step;
    const r = byStart.get(start);
    points.push({
      minute: new Date(start).toISOString(),
      passes: r?.passes ?? 0,
      warns: r?.warns ?? 0,
      fails: r?.fails ?? 0,
      p95LatencyMs: r ? percentileFromBuckets(r.buckets.slice(0, BUCKET_COUNT), 0.95, r.max_ms) : null,
    });
  }
  return { service: svc.name, tenant: svc.tenantId, range, bucketSeconds: bucketMinutes * 60, points };
}

export interface FailureItem {
  at: string;
  instanceId: string;
  /** the instance's base URL and region */
  url: string;
  region: string;
  httpStatus: number | null;
  latencyMs: number | null;
  error: string | null;
}

export const FAILURES_LIMIT = 20;

/**
 * The last 20 failed checks of the service's current instances (a removed instance's checks
 * stay in health_checks until retention, but are no longer listed), newest first. Reads raw
 * health_checks through the (instance_id, at DESC) index, per instance (LATERAL), so it touches
 * at most 20 failures per instance after skipping that instance's recent passes.
 */
export async function serviceFailures(db: Queryable, svc: ServiceRef): Promise<{ items: FailureItem[] }> {
  const { rows } = await db.query<{
    at: Date;
    instance_id: string;
    url: string;
    region: string;
    http_status: number | null;
    latency_ms: number | null;
    error: string | null;
  }>(
    `SELECT f.at, i.id AS instance_id, i.url, i.region, f.http_status, f.latency_ms, f.error
       FROM instances i
       CROSS JOIN LATERAL (
         SELECT h.at, h.http_status, h.latency_ms, h.error FROM health_checks h
          WHERE h.instance_id = i.id AND h.outcome = 'fail'
          ORDER BY h.at DESC LIMIT $2
       ) f
      WHERE i.service_id = $1
      ORDER BY f.at DESC, i.id
      LIMIT $2`,
    [svc.id, FAILURES_LIMIT],
  );
  return {
    items: rows.map((r) => ({
      at: r.at.toISOString(),
      instanceId: r.instance_id,
      url: r.url,
      region: r.region,
      httpStatus: r.http_status,
      latencyMs: r.latency_ms,
      error: r.error,
    })),
  };
}
