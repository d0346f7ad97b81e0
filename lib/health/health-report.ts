import type { Queryable } from "../db/pool";
import { z } from "zod";
import type { Principal } from "../auth/principal";
import { AppError } from "../http/app-error";
import { overallStatus, statusRank, type HealthStatus } from "./status-rules";

/**
 * `GET /health` (ARCHITECTURE.md §5): the overall status — the worst service, unknown counting as
 * yellow, services in maintenance left out — plus the worker's liveness. Without a valid token
 * the answer carries no tenant data (`services: []`, counts only in `reason`); with one, the
 * services of the caller's tenant (a global admin: every tenant, or `?tenant=`).
 */

export const PROBE_LOOP = "health-probe";
/** The probe loop is "stale" after max(30 s, 3 × the smallest check interval) without completing. */
export const MIN_STALE_AFTER_SECONDS = 30;

export interface WorkerLiveness {
  /** when a `health-probe` loop last completed on any worker (null: never) */
  lastLoopAt: string | null;
  stale: boolean;
  staleAfterSeconds: number;
}

/** SQL columns (last_loop, min_interval, db_now) for `workerLivenessFrom`; embed in a SELECT. */
export const WORKER_LIVENESS_COLUMNS = `
  (SELECT max(last_completed_at) FROM worker_heartbeats
    WHERE loop = '${PROBE_LOOP}' AND last_completed_at > 'epoch'::timestamptz) AS last_loop,
  (SELECT min(check_interval_seconds) FROM services) AS min_interval,
  now() AS db_now`;

export interface WorkerLivenessRow {
  last_loop: Date | null;
  min_interval: number | null;
  db_now: Date;
}

/** Staleness is judged on the database clock, so a web host with a skewed clock judges right. */
export function workerLivenessFrom(r: WorkerLivenessRow): WorkerLiveness {
  const staleAfterSeconds = Math.max(MIN_STALE_AFTER_SECONDS, 3 * (r.min_interval ?? 0));
  const stale = r.last_loop === null || r.db_now.getTime() - r.last_loop.getTime() > staleAfterSeconds * 1000;
  return { lastLoopAt: r.last_loop?.toISOString() ?? null, stale, staleAfterSeconds };
}

export async function workerLiveness(db: Queryable): Promise<WorkerLiveness> {
  const { rows } = await db.query<WorkerLivenessRow>(`SELECT ${WORKER_LIVENESS_COLUMNS}`);
  return workerLivenessFrom(rows[0]!);
}

/** "health checks are not running (last probe loop 2026-…Z, 95 s ago)". */
export function staleReason(w: WorkerLiveness, dbNow: Date = new Date()): string {
  if (w.lastLoopAt === null) return "health checks are not running (no probe loop has completed yet)";
  const ago = Math.max(0, Math.round((dbNow.getTime() - Date.parse(w.lastLoopAt)) / 1000));
  return `health checks are not running (last probe loop ${w.lastLoopAt}, ${ago} s ago)`;
}

/**
 * Which tenants a caller sees: `null` = every tenant (global admin without `?tenant=`), a tenant
 * id, or `false` = none. A filter outside the caller's own tenant yields nothing, not an error:
 * the report is always 200 and never confirms what other tenants exist.
 */
export function reportScope(p: Principal | null, tenantParam: string | undefined): string | null | false {
  if (!p) return false;
  if (p.tenantId === null) return p.role === "admin" ? (tenantParam ?? null) : false;
  if (tenantParam !== undefined && tenantParam !== p.tenantId) return false;
  return p.tenantId;
}

export const healthReportQuery = z.object({
  tenant: z.preprocess((v) => (v === "" ? undefined : v), z.string().max(100).optional()),
});

export interface ServiceHealth {
  name: string;
  tenant: string;
  status: HealthStatus;
  reason: string | null;
  maintenance: boolean;
  statusChangedAt: string | null;
  /** healthy = enabled and green; total = every registered instance; drained = not enabled */
  instances: { healthy: number; total: number; drained: number };
  /** when any of its instances was last checked */
  checkedAt: string | null;
}

export interface HealthReport {
  status: "green" | "yellow" | "red";
  /** why it is not green: the worker, and counts of services that are not green */
  reason: string | null;
  services: ServiceHealth[];
  worker: WorkerLiveness;
}

interface CountRow extends WorkerLivenessRow {
  red: number;
  yellow: number;
  unknown: number;
  green: number;
}

function countsReason(c: { red: number; yellow: number; unknown: number }): string[] {
  const out: string[] = [];
  const s = (n: number) => (n === 1 ? "service" : "services");
  if (c.red) out.push(`${c.red} ${s(c.red)} red`);
  if (c.yellow) out.push(`${c.yellow} ${s(c.yellow)} yellow`);
  if (c.unknown) out.push(`${c.unknown} ${s(c.unknown)} not checked yet`);
  return out;
}

function combine(
  fromServices: "green" | "yellow" | "red",
  reasons: string[],
  worker: WorkerLiveness,
  dbNow: Date,
): Pick<HealthReport, "status" | "reason"> {
  let status = fromServices;
  const why = [...reasons];
  if (worker.stale) {
    if (status === "green") status = "yellow";
    why.unshift(staleReason(worker, dbNow));
  }
  return { status, reason: why.length ? why.join("; ") : null };
}

export async function healthReport(db: Queryable, p: Principal | null, tenantParam?: string): Promise<HealthReport> {
  const scope = reportScope(p, tenantParam);
  if (!p) {
    // Anonymous: the overall status of every service, no names.
    const { rows } = await db.query<CountRow>(
      `SELECT count(*) FILTER (WHERE status = 'red')::int AS red,
              count(*) FILTER (WHERE status = 'yellow')::int AS yellow,
              count(*) FILTER (WHERE status = 'unknown')::int AS unknown,
              count(*) FILTER (WHERE status = 'green')::int AS green,
              ${WORKER_LIVENESS_COLUMNS}
         FROM services WHERE NOT maintenance`,
    );
    const c = rows[0]!;
    const worker = workerLivenessFrom(c);
    const fromServices = c.red ? "red" : c.yellow || c.unknown ? "yellow" : "green";
    return { ...combine(fromServices, countsReason(c), worker, c.db_now), services: [], worker };
  }
  if (scope === false) {
    // A caller who sees no tenant (or filtered on another one): no services, only the worker.
    const { rows } = await db.query<WorkerLivenessRow>(`SELECT ${WORKER_LIVENESS_COLUMNS}`);
    const worker = workerLivenessFrom(rows[0]!);
    return { ...combine("green", [], worker, rows[0]!.db_now), services: [], worker };
  }

  const [svc, live] = await Promise.all([
    db.query<{
      tenant_id: string;
      name: string;
      status: HealthStatus;
      status_reason: string | null;
      maintenance: boolean;
      status_changed_at: Date | null;
      healthy: number;
      total: number;
      drained: number;
      checked_at: Date | null;
    }>(
      `SELECT s.tenant_id, s.name, s.status, s.status_reason, s.maintenance, s.status_changed_at,
              count(i.id) FILTER (WHERE i.enabled AND i.status = 'green')::int AS healthy,
              count(i.id)::int AS total,
              count(i.id) FILTER (WHERE NOT i.enabled)::int AS drained,
              max(i.last_checked_at) AS checked_at
         FROM services s LEFT JOIN instances i ON i.service_id = s.id
        WHERE ($1::text IS NULL OR s.tenant_id = $1)
        GROUP BY s.id`,
      [scope],
    ),
    db.query<WorkerLivenessRow>(`SELECT ${WORKER_LIVENESS_COLUMNS}`),
  ]);
  const services: ServiceHealth[] = svc.rows
    .map((r) => ({
      name: r.name,
      tenant: r.tenant_id,
      status: r.status,
      reason: r.status_reason,
      maintenance: r.maintenance,
      statusChangedAt: r.status_changed_at?.toISOString() ?? null,
      instances: { healthy: r.healthy, total: r.total, drained: r.drained },
      checkedAt: r.checked_at?.toISOString() ?? null,
    }))
    .sort(
      (a, b) =>
        Number(a.maintenance) - Number(b.maintenance) ||
        statusRank[a.status] - statusRank[b.status] ||
        a.name.localeCompare(b.name) ||
        a.tenant.localeCompare(b.tenant),
    );
  const lv = live.rows[0]!;
  const worker = workerLivenessFrom(lv);
  const counted = services.filter((s) => !s.maintenance);
  const counts = {
    red: counted.filter((s) => s.status === "red").length,
    yellow: counted.filter((s) => s.status === "yellow").length,
    unknown: counted.filter((s) => s.status === "unknown").length,
  };
  return { ...combine(overallStatus(services), countsReason(counts), worker, lv.db_now), services, worker };
}

/** Turns a `?tenant=` value into the scope parameter, refusing malformed ones. */
export function parseHealthReportQuery(url: string): { tenant?: string } {
  const r = healthReportQuery.safeParse(Object.fromEntries(new URL(url).searchParams.entries()));
  if (!r.success) throw new AppError("invalid_request", "`tenant` must be a tenant id.");
  return r.data;
}
