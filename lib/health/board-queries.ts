import type pg from "pg";
import { z } from "zod";
import type { Principal } from "../auth/principal";
import { resolveTenant } from "../tenancy/tenant-access";
import {
  serviceBreakersLateral,
  serviceCircuitSummary,
  type InstanceBreaker,
  type ServiceCircuitSummary,
} from "../circuit/service-circuit-summary";
import { AppError } from "../http/app-error";
import { percentileFromBuckets, sumBucketsSql } from "./latency-buckets";
import {
  WORKER_LIVENESS_COLUMNS,
  workerLivenessFrom,
  type ServiceHealth,
  type WorkerLiveness,
  type WorkerLivenessRow,
} from "./health-report";
import type { HealthStatus } from "./status-rules";

/**
 * The board's read API (`GET /api/v1/board`): a summary, the worker's liveness and one page of
 * services, worst first. Exactly two statements per request whatever the number of services —
 * the summary (+ liveness) and the page, whose per-service figures come from LATERAL joins on
 * indexes (instances by service, circuits by instance, roll-ups by (service_id, minute)). Raw
 * health_checks are never read: p95 comes from the last 15 minutes of per-minute roll-ups.
 */

export const boardFilters = ["green", "yellow", "red", "unknown", "maintenance"] as const;
export type BoardFilter = (typeof boardFilters)[number];
export const P95_WINDOW_MINUTES = 15;

const emptyToUndefined = (v: unknown) => (v === "" ? undefined : v);

export const boardQuery = z.object({
  tenant: z.preprocess(emptyToUndefined, z.string().max(100).optional()),
  /** comma-separated: green, yellow, red, unknown, maintenance */
  status: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .transform((s) => [
        ...new Set(
          s
            .split(",")
            .map((x) => x.trim())
            .filter(Boolean),
        ),
      ])
      .pipe(z.array(z.enum(boardFilters)).min(1))
      .optional(),
  ),
  /** substring of the service name (case-insensitive) */
  q: z.preprocess(emptyToUndefined, z.string().max(100).optional()),
  cursor: z.preprocess(emptyToUndefined, z.string().max(400).optional()),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type BoardQuery = z.infer<typeof boardQuery>;

/**
 * A tile: a service's health as `/health` reports it, plus latency, per-region counts and its
 * breakers (open / half-open / forced, and whether the gateway has failed over).
 */
export interface BoardItem extends Omit<ServiceHealth, "checkedAt">, ServiceCircuitSummary {
  lastCheckedAt: string | null;
  p95LatencyMs: number | null;
  regions: { region: string; healthy: number; total: number }[];
}

export interface Board {
  summary: { green: number; yellow: number; red: number; unknown: number; maintenance: number; total: number };
  worker: WorkerLiveness;
  items: BoardItem[];
  nextCursor: string | null;
}

/** Worst first: red, yellow, unknown, green; services in maintenance last. */
const RANK_SQL = `CASE WHEN s.maintenance THEN 4 WHEN s.status = 'red' THEN 0 WHEN s.status = 'yellow' THEN 1
  WHEN s.status = 'unknown' THEN 2 ELSE 3 END`;

interface Cursor {
  rank: number;
  name: string;
  tenant: string;
}
const cursorSchema = z.tuple([z.number().int().min(0).max(4), z.string(), z.string()]);

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.rank, c.name, c.tenant])).toString("base64url");
}
function decodeCursor(raw: string): Cursor {
  try {
    const [rank, name, tenant] = cursorSchema.parse(JSON.parse(Buffer.from(raw, "base64url").toString("utf8")));
    return { rank, name, tenant };
  } catch {
    throw new AppError("invalid_request", "`cursor` must come from a previous page's nextCursor.");
  }
}

function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * The page statement. Parameters: $1 tenant (null = all), $2 colour filter (text[] or null),
 * $3 include maintenance (bool or null = no filter), $4 name pattern, $5-$7 cursor, $8 limit.
 * Exported for the EXPLAIN test.
 */
export const BOARD_PAGE_SQL = `
WITH page AS (
  SELECT s.id, s.tenant_id, s.name, s.status, s.status_reason, s.maintenance, s.status_changed_at,
         ${RANK_SQL} AS rank
    FROM services s
   WHERE ($1::text IS NULL OR s.tenant_id = $1)
     AND ($4::text IS NULL OR s.name ILIKE $4)
     AND (($2::text[] IS NULL AND $3::boolean IS NULL)
          OR (NOT s.maintenance AND s.status::text = ANY($2::text[]))
          OR ($3::boolean AND s.maintenance))
     AND ($5::int IS NULL OR (${RANK_SQL}, s.name, s.tenant_id) > ($5::int, $6::text, $7::text))
   ORDER BY rank, s.name, s.tenant_id
   LIMIT $8
)
SELECT p.tenant_id, p.name, p.status, p.status_reason, p.maintenance, p.status_changed_at, p.rank,
       coalesce(inst.regions, '[]'::json) AS regions,
       coalesce(inst.healthy, 0)::int AS healthy, coalesce(inst.total, 0)::int AS total,
       coalesce(inst.drained, 0)::int AS drained, inst.last_checked_at,
       roll.buckets, roll.max_ms, brk.breakers
  FROM page p
  LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object('region', r.region, 'healthy', r.healthy, 'total', r.total) ORDER BY r.region) AS regions,
           sum(r.healthy) AS healthy, sum(r.total) AS total, sum(r.drained) AS drained, max(r.last_checked_at) AS last_checked_at
      FROM (SELECT i.region,
                   count(*) FILTER (WHERE i.enabled AND i.status = 'green')::int AS healthy,
                   count(*)::int AS total,
                   count(*) FILTER (WHERE NOT i.enabled)::int AS drained,
                   max(i.last_checked_at) AS last_checked_at
              FROM instances i WHERE i.service_id = p.id GROUP BY i.region) r
  ) inst ON true
  LEFT JOIN LATERAL (
    SELECT ${sumBucketsSql("h.latency_buckets")} AS buckets, max(h.latency_max_ms) AS max_ms
      FROM health_rollups h
     WHERE h.service_id = p.id
       AND h.minute > date_trunc('minute', now()) - make_interval(mins => ${P95_WINDOW_MINUTES})
  ) roll ON true
  ${serviceBreakersLateral("p")}
 ORDER BY p.rank, p.name, p.tenant_id`;

const SUMMARY_SQL = `
SELECT count(*) FILTER (WHERE NOT s.maintenance AND s.status = 'green')::int AS green,
       count(*) FILTER (WHERE NOT s.maintenance AND s.status = 'yellow')::int AS yellow,
       count(*) FILTER (WHERE NOT s.maintenance AND s.status = 'red')::int AS red,
       count(*) FILTER (WHERE NOT s.maintenance AND s.status = 'unknown')::int AS unknown,
       count(*) FILTER (WHERE s.maintenance)::int AS maintenance,
       count(*)::int AS total,
       ${WORKER_LIVENESS_COLUMNS}
  FROM services s
 WHERE ($1::text IS NULL OR s.tenant_id = $1)`;

interface PageRow {
  tenant_id: string;
  name: string;
  status: HealthStatus;
  status_reason: string | null;
  maintenance: boolean;
  status_changed_at: Date | null;
  rank: number;
  regions: { region: string; healthy: number; total: number }[];
  healthy: number;
  total: number;
  drained: number;
  last_checked_at: Date | null;
  buckets: number[] | null;
  max_ms: number | null;
  breakers: InstanceBreaker[] | null;
}

/** The parameters of BOARD_PAGE_SQL for a query. */
export function boardPageParams(tenant: string | null, q: BoardQuery): unknown[] {
  const colours = q.status?.filter((s) => s !== "maintenance") ?? null;
  const maintenance = q.status ? q.status.includes("maintenance") : null;
  const cursor = q.cursor ? decodeCursor(q.cursor) : null;
  return [
    tenant,
    q.status ? colours : null,
    maintenance,
    q.q ? likePattern(q.q) : null,
    cursor?.rank ?? null,
    cursor?.name ?? null,
    cursor?.tenant ?? null,
    q.limit + 1,
  ];
}

/**
 * The summary counts each service once: services in maintenance only as `maintenance`, the
 * rest by colour (green + yellow + red + unknown + maintenance = total). It covers the caller's
 * tenant scope and ignores `status`, `q` and the cursor: it is the board's header.
 */
export async function board(db: Pick<pg.Pool, "query">, p: Principal, q: BoardQuery): Promise<Board> {
  // A global admin: every tenant (or `?tenant=`); anyone else their own (another tenant: 404).
  const tenant = resolveTenant(p, q.tenant);
  const params = boardPageParams(tenant, q);
  const [summary, page] = await Promise.all([
    db.query<Board["summary"] & WorkerLivenessRow>(SUMMARY_SQL, [tenant]),
    db.query<PageRow>(BOARD_PAGE_SQL, params),
  ]);
  const s = summary.rows[0]!;
  const rows = page.rows.slice(0, q.limit);
  const last = rows.at(-1);
  return {
    summary: {
      green: s.green,
      yellow: s.yellow,
      red: s.red,
      unknown: s.unknown,
      maintenance: s.maintenance,
      total: s.total,
    },
    worker: workerLivenessFrom(s),
    items: rows.map((r) => ({
      name: r.name,
      tenant: r.tenant_id,
      status: r.status,
      reason: r.status_reason,
      maintenance: r.maintenance,
      statusChangedAt: r.status_changed_at?.toISOString() ?? null,
      lastCheckedAt: r.last_checked_at?.toISOString() ?? null,
      p95LatencyMs: r.buckets ? percentileFromBuckets(r.buckets, 0.95, r.max_ms) : null,
      regions: r.regions,
      instances: { healthy: r.healthy, total: r.total, drained: r.drained },
      ...serviceCircuitSummary(r.breakers ?? []),
    })),
    nextCursor:
      page.rows.length > q.limit && last
        ? encodeCursor({ rank: last.rank, name: last.name, tenant: last.tenant_id })
        : null,
  };
}
