import type { Queryable } from "../db/pool";
import { z } from "zod";
import { AppError } from "../http/app-error";
import type { HealthStatus } from "../health/status-rules";
import type { CircuitStateName, ForcedState } from "./breaker";
import { effectiveStateSql } from "./effective-state-sql";

/**
 * The read side of the circuit breakers: every instance's breaker as the shared `circuits` row
 * says ("one truth"), with each live gateway replica's local view beside it ("per-replica
 * detail", which shows whether the replicas have converged). An instance without a row has
 * never tripped: it reads closed, since its registration.
 *
 * Two statements per list request whatever the number of instances: the page (trips in the
 * last hour and the replicas' views come from LATERAL joins on indexes) and the summary. The
 * gateway's hot path never reads any of this.
 */

export const circuitStates = ["closed", "open", "half_open"] as const satisfies readonly CircuitStateName[];
/** The list's `state` filter: a state, or every breaker an operator has forced. */
export const circuitFilters = ["open", "half_open", "closed", "forced"] as const;
export type CircuitFilter = (typeof circuitFilters)[number];

/** A replica is live while it heartbeats (every ~2 s); a silent one drops out after this. */
export const REPLICA_LIVE_SECONDS = 10;

export interface ReplicaCircuitView {
  replicaId: string;
  hostname: string;
  /** null: this replica holds no state for the instance yet (it has not routed to it) */
  state: CircuitStateName | null;
  calls: number;
  failureRatePct: number | null;
  consecutiveFailures: number;
  outstanding: number;
  lastSeenAt: string;
}

export interface CircuitView {
  instanceId: string;
  service: string;
  tenant: string;
  url: string;
  region: string;
  enabled: boolean;
  /** the instance's health status (the prober's) */
  health: HealthStatus;
  /** the state that routing obeys: a forced state wins; an open breaker past its period reads half_open */
  state: CircuitStateName;
  forced: ForcedState | null;
  forcedBy: string | null;
  forcedAt: string | null;
  reason: string | null;
  /** when the current state began */
  since: string;
  /** open: when trial calls may start */
  openUntil: string | null;
  failureRatePct: number | null;
  windowCalls: number | null;
  tripStreak: number;
  tripsLastHour: number;
  /** the replica that made the last change (empty → null) */
  changedBy: string | null;
  replicas: ReplicaCircuitView[];
}

export interface CircuitSummary {
  total: number;
  open: number;
  halfOpen: number;
  closed: number;
  forced: number;
  tripsLastHour: number;
}

export interface CircuitList {
  items: CircuitView[];
  nextCursor: string | null;
  summary: CircuitSummary;
  /** service names in scope, for the filter */
  services: string[];
}

const emptyToUndefined = (v: unknown) => (v === "" ? undefined : v);

export const circuitListQuery = z.object({
  tenant: z.preprocess(emptyToUndefined, z.string().max(100).optional()),
  state: z.preprocess(emptyToUndefined, z.enum(circuitFilters).optional()),
  service: z.preprocess(emptyToUndefined, z.string().max(100).optional()),
  cursor: z.preprocess(emptyToUndefined, z.string().max(600).optional()),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type CircuitListQuery = z.infer<typeof circuitListQuery>;

/** `GET /api/v1/services/<name>/circuits`: a global admin may name the tenant. */
export const serviceCircuitsQuery = z.object({
  tenant: z.preprocess(emptyToUndefined, z.string().max(100).optional()),
});

export interface ListCircuitsOptions {
  /** null = every tenant (global admins) */
  tenant: string | null;
  cursor?: string;
  limit?: number;
  state?: CircuitFilter;
  service?: string;
}

/** Worst first: open, half-open, forced (closed), closed. */
const RANK_SQL = `CASE WHEN b.state = 'open' THEN 0 WHEN b.state = 'half_open' THEN 1
  WHEN b.forced IS NOT NULL THEN 2 ELSE 3 END`;

interface Cursor {
  rank: number;
  service: string;
  tenant: string;
  url: string;
}
const cursorSchema = z.tuple([z.number().int().min(0).max(3), z.string(), z.string(), z.string()]);

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.rank, c.service, c.tenant, c.url])).toString("base64url");
}
function decodeCursor(raw: string): Cursor {
  try {
    const [rank, service, tenant, url] = cursorSchema.parse(JSON.parse(Buffer.from(raw, "base64url").toString("utf8")));
    return { rank, service, tenant, url };
  } catch {
    throw new AppError("invalid_request", "`cursor` must come from a previous page's nextCursor.");
  }
}

/**
 * The page statement. $1 tenant (null = all), $2 service name, $3 instance id, $4 state filter,
 * $5-$8 cursor (rank, service, tenant, url), $9 limit. Keyset paging on (rank, service, tenant,
 * url), which is unique: a URL is unique within a service, a name within a tenant.
 */
const CIRCUIT_PAGE_SQL = `
WITH base AS (
  SELECT i.id, i.url, i.region, i.enabled, i.status::text AS health, i.created_at,
         s.name AS service, s.tenant_id,
         c.forced, c.forced_by, c.forced_at, c.reason, c.since, c.open_until, c.trip_streak,
         c.failure_rate_pct, c.window_calls, c.changed_by,
         ${effectiveStateSql("c")} AS state
    FROM services s
    JOIN instances i ON i.service_id = s.id
    LEFT JOIN circuits c ON c.instance_id = i.id
   WHERE ($1::text IS NULL OR s.tenant_id = $1)
     AND ($2::text IS NULL OR s.name = $2)
     AND ($3::uuid IS NULL OR i.id = $3)
), page AS (
  SELECT b.*, ${RANK_SQL} AS rank
    FROM base b
   WHERE ($4::text IS NULL OR ($4 = 'forced' AND b.forced IS NOT NULL) OR b.state = $4)
     AND ($5::int IS NULL OR (${RANK_SQL}, b.service, b.tenant_id, b.url) > ($5::int, $6::text, $7::text, $8::text))
   ORDER BY rank, b.service, b.tenant_id, b.url
   LIMIT $9
), live AS MATERIALIZED (
  SELECT replica_id, hostname, last_seen_at, circuits
    FROM gateway_replicas
   WHERE last_seen_at > now() - make_interval(secs => ${REPLICA_LIVE_SECONDS})
)
SELECT p.*, coalesce(trips.n, 0)::int AS trips_last_hour, coalesce(rep.replicas, '[]'::json) AS replicas
  FROM page p
  LEFT JOIN LATERAL (
    SELECT count(*) AS n FROM circuit_events e
     WHERE e.instance_id = p.id AND e.to_state = 'open' AND e.at > now() - interval '1 hour'
  ) trips ON true
  LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object('replicaId', l.replica_id, 'hostname', l.hostname,
                                      'lastSeenAt', l.last_seen_at, 'local', l.circuits -> p.id::text)
                    ORDER BY l.replica_id) AS replicas
      FROM live l
  ) rep ON true
 ORDER BY p.rank, p.service, p.tenant_id, p.url`;

/**
 * The header: counts per state over the caller's scope (filters and cursor do not apply), trips
 * in the last hour (circuit_events by (tenant_id, at), only for instances that still exist), and
 * the service names for the filter.
 */
const CIRCUIT_SUMMARY_SQL = `
SELECT count(*)::int AS total,
       count(*) FILTER (WHERE x.state = 'open')::int AS open,
       count(*) FILTER (WHERE x.state = 'half_open')::int AS half_open,
       count(*) FILTER (WHERE x.state = 'closed')::int AS closed,
       count(*) FILTER (WHERE x.forced IS NOT NULL)::int AS forced,
       coalesce(array_agg(DISTINCT x.service ORDER BY x.service), '{}') AS services,
       (SELECT count(*)::int FROM circuit_events e
         WHERE ($1::text IS NULL OR e.tenant_id = $1) AND e.to_state = 'open' AND e.at > now() - interval '1 hour'
           AND EXISTS (SELECT 1 FROM instances i WHERE i.id = e.instance_id)) AS trips_last_hour
  FROM (SELECT s.name AS service, c.forced, ${effectiveStateSql("c")} AS state
          FROM services s
          JOIN instances i ON i.service_id = s.id
          LEFT JOIN circuits c ON c.instance_id = i.id
         WHERE ($1::text IS NULL OR s.tenant_id = $1)) x`;

interface PageRow {
  id: string;
  url: string;
  region: string;
  enabled: boolean;
  health: HealthStatus;
  created_at: Date;
  service: string;
  tenant_id: string;
  forced: string | null;
  forced_by: string | null;
  forced_at: Date | null;
  reason: string | null;
  since: Date | null;
  open_until: Date | null;
  trip_streak: number | null;
  failure_rate_pct: number | null;
  window_calls: number | null;
  changed_by: string | null;
  state: CircuitStateName;
  rank: number;
  trips_last_hour: number;
  replicas: unknown;
}

interface SummaryRow {
  total: number;
  open: number;
  half_open: number;
  closed: number;
  forced: number;
  services: string[];
  trips_last_hour: number;
}

/**
 * What a replica heartbeats about one instance (`gateway_replicas.circuits[instanceId]`). It is
 * written by other processes, possibly an older or newer version: anything unreadable counts as
 * "no state" rather than failing the page.
 */
const count = z.number().int().nonnegative().catch(0);
const replicaLocalSchema = z.object({
  state: z.enum(circuitStates).nullable().catch(null),
  calls: count,
  failureRatePct: z.number().nullable().catch(null),
  consecutiveFailures: count,
  outstanding: count,
});
const replicaRowSchema = z.object({
  replicaId: z.string(),
  hostname: z.string(),
  lastSeenAt: z.string(),
  local: z.unknown(),
});

function replicasFrom(raw: unknown): ReplicaCircuitView[] {
  const rows = z.array(replicaRowSchema).catch([]).parse(raw);
  return rows.map((r) => {
    const local = replicaLocalSchema.safeParse(r.local ?? undefined);
    return {
      replicaId: r.replicaId,
      hostname: r.hostname,
      state: local.success ? local.data.state : null,
      calls: local.success ? local.data.calls : 0,
      failureRatePct: local.success ? local.data.failureRatePct : null,
      consecutiveFailures: local.success ? local.data.consecutiveFailures : 0,
      outstanding: local.success ? local.data.outstanding : 0,
      lastSeenAt: new Date(r.lastSeenAt).toISOString(),
    };
  });
}

const forcedOf = (v: string | null): ForcedState | null => (v === "open" || v === "closed" ? v : null);

function viewOf(r: PageRow): CircuitView {
  return {
    instanceId: r.id,
    service: r.service,
    tenant: r.tenant_id,
    url: r.url,
    region: r.region,
    enabled: r.enabled,
    health: r.health,
    state: r.state,
    forced: forcedOf(r.forced),
    forcedBy: r.forced_by,
    forcedAt: r.forced_at?.toISOString() ?? null,
    reason: r.reason,
    since: (r.since ?? r.created_at).toISOString(),
    openUntil: r.open_until?.toISOString() ?? null,
    failureRatePct: r.failure_rate_pct,
    windowCalls: r.window_calls,
    tripStreak: r.trip_streak ?? 0,
    tripsLastHour: r.trips_last_hour,
    changedBy: r.changed_by || null,
    replicas: replicasFrom(r.replicas),
  };
}

interface PageFilter {
  tenant: string | null;
  service?: string;
  instanceId?: string;
  state?: CircuitFilter;
  cursor?: string;
  limit: number;
}

/** The parameters of CIRCUIT_PAGE_SQL (the limit is one more, to know whether a next page exists). */
function circuitPageParams(f: PageFilter): unknown[] {
  const c = f.cursor ? decodeCursor(f.cursor) : null;
  return [
    f.tenant,
    f.service ?? null,
    f.instanceId ?? null,
    f.state ?? null,
    c?.rank ?? null,
    c?.service ?? null,
    c?.tenant ?? null,
    c?.url ?? null,
    f.limit + 1,
  ];
}

async function page(db: Queryable, f: PageFilter): Promise<{ items: CircuitView[]; nextCursor: string | null }> {
  const { rows } = await db.query<PageRow>(CIRCUIT_PAGE_SQL, circuitPageParams(f));
  const kept = rows.slice(0, f.limit);
  const last = kept.at(-1);
  return {
    items: kept.map(viewOf),
    nextCursor:
      rows.length > f.limit && last
        ? encodeCursor({ rank: last.rank, service: last.service, tenant: last.tenant_id, url: last.url })
        : null,
  };
}

/** Every breaker of the tenant's services (null = all tenants), worst first, one page. */
export async function listCircuits(db: Queryable, o: ListCircuitsOptions): Promise<CircuitList> {
  const [list, summary] = await Promise.all([
    page(db, { tenant: o.tenant, service: o.service, state: o.state, cursor: o.cursor, limit: o.limit ?? 100 }),
    db.query<SummaryRow>(CIRCUIT_SUMMARY_SQL, [o.tenant]),
  ]);
  const s = summary.rows[0]!;
  return {
    ...list,
    summary: {
      total: s.total,
      open: s.open,
      halfOpen: s.half_open,
      closed: s.closed,
      forced: s.forced,
      tripsLastHour: s.trips_last_hour,
    },
    services: s.services,
  };
}

/** A service's instances never run into the thousands; this is a bound, not a page size. */
const SERVICE_INSTANCES_MAX = 1000;

/** The breakers of one service (the service page), worst first. */
export async function circuitsForService(db: Queryable, tenant: string, serviceName: string): Promise<CircuitView[]> {
  return (await page(db, { tenant, service: serviceName, limit: SERVICE_INSTANCES_MAX })).items;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID.test(s);
}

/**
 * One instance's breaker, if the tenant (null = all) can see it; otherwise `not_found` — an
 * instance of another tenant is indistinguishable from one that does not exist.
 */
export async function getCircuit(db: Queryable, tenant: string | null, instanceId: string): Promise<CircuitView> {
  const notFound = new AppError("not_found", `No instance ${instanceId}.`);
  if (!isUuid(instanceId)) throw notFound;
  const { items } = await page(db, { tenant, instanceId: instanceId.toLowerCase(), limit: 1 });
  if (!items[0]) throw notFound;
  return items[0];
}
