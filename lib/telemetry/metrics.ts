import type pg from "pg";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { effectiveStateSql } from "../circuit/effective-state-sql";
import { systemPool } from "../db/pool";
import { countRateLimited, countRequest } from "../traffic/traffic-recorder";
import { CounterFamily, RequestFamily, type CounterSeries, type RequestSeries } from "./fast-metrics";
import { logger } from "./logger";
import { processState } from "./process-global";
import { STATUS_CLASSES, statusClassIndex } from "./status-class";

/**
 * Prometheus metrics of this process (`GET /api/metrics`).
 *
 * - Request counters and latency histograms are per replica: each web replica counts what it
 *   served, and Prometheus scrapes every replica (sum across them in queries).
 * - Breaker and instance-health gauges are read from PostgreSQL at scrape time, so every replica
 *   reports the same shared truth (use max/avg across replicas, not sum).
 *
 * The registry and metric objects live on globalThis (process-global.ts): the gateway's copy of
 * this module and Next's copy record into the same registry.
 *
 * Label note: the instance label is `instance_id`, not `instance` — Prometheus attaches its own
 * `instance` label (the scraped target) and would rename ours to `exported_instance`.
 */

/** A proxy's range: a 1 ms in-memory answer up to a 10 s upstream timeout. */
const DURATION_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/**
 * Label sets are created per (tenant, service): service names come from the request path, so a
 * client could invent unlimited ones if the caller passed them through unchecked. Past this many
 * label sets, new services are counted as `_other` instead of growing the registry forever.
 */
export const MAX_SERIES = 10_000;
export const OVERFLOW_LABEL = "_other";
/** Scrape-time fleet query bound: at most this many instances are reported. */
export const FLEET_LIMIT = 10_000;

const CIRCUIT_VALUE: Record<string, number> = { closed: 0, half_open: 1, open: 2 };
const HEALTH_STATUSES = ["green", "yellow", "red", "unknown"] as const;

type FleetLabels = "tenant" | "service" | "instance_id" | "region";

/** One (tenant, service) pair's series, one per status class, found once and kept. */
interface ServiceSeries {
  /** the label actually used (the real name, or `_other` past MAX_SERIES) */
  service: string;
  byClass: RequestSeries[];
}

interface MetricsState {
  registry: Registry;
  gatewayRequests: RequestFamily;
  intakeRequests: RequestFamily;
  rateLimited: CounterFamily;
  circuitState: Gauge<FleetLabels>;
  circuitTrips: Gauge<FleetLabels>;
  instanceHealth: Gauge<FleetLabels | "status">;
  probeLatency: Gauge<FleetLabels>;
  fleetUp: Gauge;
  /** tenant → service → series */
  gateway: Map<string, Map<string, ServiceSeries>>;
  intake: Map<string, ServiceSeries>;
  /** tenant → scope → series */
  limited: Map<string, Map<string, CounterSeries>>;
  series: number;
  overflowLogged: boolean;
}

function create(): MetricsState {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const fleetLabels = ["tenant", "service", "instance_id", "region"] as const;
  const m: MetricsState = {
    registry,
    gatewayRequests: new RequestFamily(
      {
        name: "hms_gateway_requests_total",
        help: "Requests answered by the gateway (limiter refusals included), by tenant, service and status class.",
      },
      {
        name: "hms_gateway_request_duration_seconds",
        help: "Gateway request duration from arrival to the upstream's response headers (or our own error answer).",
      },
      DURATION_BUCKETS_S,
    ),
    intakeRequests: new RequestFamily(
      {
        name: "hms_intake_requests_total",
        help: "Claim uploads (POST /claims) answered (limiter refusals included), by tenant and status class.",
      },
      { name: "hms_intake_request_duration_seconds", help: "Claim upload duration, body included." },
      [...DURATION_BUCKETS_S, 30, 60],
    ),
    rateLimited: new CounterFamily(
      "hms_rate_limited_total",
      "Requests refused by the rate limiter (429), by tenant and limit scope.",
    ),
    circuitState: new Gauge({
      name: "hms_circuit_state",
      help: "Shared breaker state per instance (0 closed, 1 half_open, 2 open), read from the database at scrape.",
      labelNames: fleetLabels,
      registers,
    }),
    circuitTrips: new Gauge({
      name: "hms_circuit_trips_last_hour",
      help: "Breaker trips (transitions to open) per instance in the last hour, read from the database at scrape.",
      labelNames: fleetLabels,
      registers,
    }),
    instanceHealth: new Gauge({
      name: "hms_instance_health",
      help: "1 for the instance's current health status (green, yellow, red, unknown), 0 for the others.",
      labelNames: [...fleetLabels, "status"],
      registers,
    }),
    probeLatency: new Gauge({
      name: "hms_instance_probe_latency_seconds",
      help: "Latency of the instance's last health probe.",
      labelNames: fleetLabels,
      registers,
    }),
    fleetUp: new Gauge({
      name: "hms_fleet_state_up",
      help: "1 when the breaker and health gauges could be read from the database at this scrape, else 0.",
      registers,
    }),
    gateway: new Map(),
    intake: new Map(),
    limited: new Map(),
    series: 0,
    overflowLogged: false,
  };
  m.gatewayRequests.register(registry);
  m.intakeRequests.register(registry);
  m.rateLimited.register(registry);
  return m;
}

function metrics(): MetricsState {
  return processState("metrics", create);
}

/** Room for one more label set? Logs once when the cap is first reached. */
function admit(m: MetricsState): boolean {
  if (m.series < MAX_SERIES) {
    m.series += 1;
    return true;
  }
  if (!m.overflowLogged) {
    m.overflowLogged = true;
    logger.warn({ maxSeries: MAX_SERIES }, `metric label sets capped; new ones are counted as ${OVERFLOW_LABEL}`);
  }
  return false;
}

function gatewaySeries(m: MetricsState, tenant: string, service: string): ServiceSeries {
  let services = m.gateway.get(tenant);
  if (!services) m.gateway.set(tenant, (services = new Map()));
  const known = services.get(service);
  if (known) return known;
  const name = admit(m) ? service : OVERFLOW_LABEL;
  let s = services.get(name);
  if (!s) {
    const family = m.gatewayRequests;
    s = {
      service: name,
      byClass: STATUS_CLASSES.map((c) => family.series({ tenant, service: name, status_class: c })),
    };
    // Only admitted names and `_other` become keys, so the map is bounded by the cap too.
    services.set(name, s);
  }
  return s;
}

function intakeSeries(m: MetricsState, tenant: string): ServiceSeries {
  const known = m.intake.get(tenant);
  if (known) return known;
  const name = admit(m) ? tenant : OVERFLOW_LABEL;
  let s = m.intake.get(name);
  if (!s) {
    const family = m.intakeRequests;
    s = { service: "intake", byClass: STATUS_CLASSES.map((c) => family.series({ tenant: name, status_class: c })) };
    m.intake.set(name, s);
  }
  return s;
}

function limitedSeries(m: MetricsState, tenant: string, scope: string): CounterSeries {
  let scopes = m.limited.get(tenant);
  if (!scopes) m.limited.set(tenant, (scopes = new Map()));
  const known = scopes.get(scope);
  if (known) return known;
  const name = admit(m) ? scope : OVERFLOW_LABEL;
  let s = scopes.get(name);
  if (!s) scopes.set(name, (s = m.rateLimited.series({ tenant, scope: name })));
  return s;
}

const seconds = (ms: number) => (ms > 0 && Number.isFinite(ms) ? ms / 1000 : 0);

// --- recording: called on the hot path; synchronous, allocation-free once a series exists -------

/**
 * One request answered by the gateway (any status, our own 502/503/504 included; a refusal by
 * the rate limiter goes to recordRateLimited instead). `service` should be a registered service's
 * name. Also counted in the per-minute traffic roll-ups.
 */
export function recordGatewayRequest(e: { tenant: string; service: string; status: number; latencyMs: number }): void {
  const m = metrics();
  const s = gatewaySeries(m, e.tenant, e.service);
  m.gatewayRequests.observe(s.byClass[statusClassIndex(e.status)]!, seconds(e.latencyMs));
  countRequest(e.tenant, s.service, e.status, e.latencyMs);
}

/** One claim upload (`POST /claims`) answered; counted in the traffic roll-ups as service "intake". */
export function recordIntakeRequest(e: { tenant: string; status: number; latencyMs: number }): void {
  const m = metrics();
  const s = intakeSeries(m, e.tenant);
  m.intakeRequests.observe(s.byClass[statusClassIndex(e.status)]!, seconds(e.latencyMs));
  countRequest(e.tenant, "intake", e.status, e.latencyMs);
}

/**
 * One request refused by the rate limiter: the whole record of that 429 — `hms_rate_limited_total`,
 * a 4xx in the request counter, and rate-limited + 4xx in the traffic roll-ups. Call it INSTEAD
 * of recordGatewayRequest / recordIntakeRequest for a refusal (the limiter answers before any
 * work, so the refusal carries no latency and stays out of the latency histograms).
 * `service` is the gateway service, or "intake" for claim uploads.
 */
export function recordRateLimited(e: { tenant: string; service: string; scope: string }): void {
  const m = metrics();
  m.rateLimited.inc(limitedSeries(m, e.tenant, e.scope));
  // The same series (and label cap) as the answered requests, so the roll-ups stay bounded too.
  const intake = e.service === "intake";
  const s = intake ? intakeSeries(m, e.tenant) : gatewaySeries(m, e.tenant, e.service);
  (intake ? m.intakeRequests : m.gatewayRequests).inc(s.byClass[statusClassIndex(429)]!);
  countRateLimited(e.tenant, s.service);
}

// --- scraping ----------------------------------------------------------------------------------

interface FleetRow {
  tenant: string;
  service: string;
  instance_id: string;
  region: string;
  status: string;
  last_latency_ms: number | null;
  circuit: string;
  trips: number;
}

/**
 * Every instance with its service, health, shared breaker state (no circuits row yet = closed)
 * and trips in the last hour — one statement, bounded. Trips are counted per instance through the
 * (instance_id, at DESC) index, only for instances that have a breaker row.
 */
export const FLEET_SQL = `
SELECT s.tenant_id AS tenant, s.name AS service, i.id::text AS instance_id, i.region, i.status::text AS status,
       i.last_latency_ms, ${effectiveStateSql("c")} AS circuit,
       coalesce(t.trips, 0)::int AS trips
  FROM instances i
  JOIN services s ON s.id = i.service_id
  LEFT JOIN circuits c ON c.instance_id = i.id
  LEFT JOIN LATERAL (
    SELECT count(*) AS trips FROM circuit_events e
     WHERE c.instance_id IS NOT NULL AND e.instance_id = i.id AND e.to_state = 'open'
       AND e.at > now() - interval '1 hour'
  ) t ON true
 ORDER BY s.tenant_id, s.name, i.id
 LIMIT $1`;

async function collectFleet(m: MetricsState, db: () => pg.Pool): Promise<void> {
  let rows: FleetRow[];
  try {
    rows = (await db().query<FleetRow>(FLEET_SQL, [FLEET_LIMIT])).rows;
  } catch (err) {
    // Stale gauges would lie: report none, and say so.
    logger.warn({ err }, "metrics: fleet state unreadable at scrape");
    for (const g of [m.circuitState, m.circuitTrips, m.instanceHealth, m.probeLatency]) g.reset();
    m.fleetUp.set(0);
    return;
  }
  if (rows.length === FLEET_LIMIT) logger.warn({ limit: FLEET_LIMIT }, "metrics: fleet gauges truncated");
  // Reset and refill synchronously: a concurrent scrape never renders a half-filled set.
  for (const g of [m.circuitState, m.circuitTrips, m.instanceHealth, m.probeLatency]) g.reset();
  for (const r of rows) {
    const labels = { tenant: r.tenant, service: r.service, instance_id: r.instance_id, region: r.region };
    m.circuitState.set(labels, CIRCUIT_VALUE[r.circuit] ?? 0);
    m.circuitTrips.set(labels, r.trips);
    for (const status of HEALTH_STATUSES) m.instanceHealth.set({ ...labels, status }, r.status === status ? 1 : 0);
    if (r.last_latency_ms !== null) m.probeLatency.set(labels, r.last_latency_ms / 1000);
  }
  m.fleetUp.set(1);
}

/**
 * The Prometheus text exposition of this process. With `tenant`, only series labelled with that
 * tenant (and series without a tenant label: process metrics) are included — an operator sees
 * their own agency's numbers, never another's.
 */
export async function metricsText(
  opts: { tenant?: string | null; db?: pg.Pool; fleet?: boolean } = {},
): Promise<{ contentType: string; body: string }> {
  const m = metrics();
  // The data-plane process leaves the fleet gauges to the web process (same shared truth).
  if (opts.fleet !== false) await collectFleet(m, () => opts.db ?? systemPool());
  const body = await m.registry.metrics();
  const tenant = opts.tenant ?? null;
  return { contentType: m.registry.contentType, body: tenant === null ? body : onlyTenant(body, tenant) };
}

/** Drops sample lines labelled with another tenant (HELP/TYPE comments and unlabelled series stay). */
export function onlyTenant(body: string, tenant: string): string {
  return body
    .split("\n")
    .filter((line) => {
      if (line.startsWith("#")) return true;
      const t = labelValue(line, "tenant");
      return t === null || t === tenant;
    })
    .join("\n");
}

/**
 * The value of label `name` in one exposition sample line (`metric{a="x",b="y\"z"} 1`), or null
 * when the line has no such label. Walks the quoted values, so a `tenant="` inside another label's
 * value cannot fool it.
 */
export function labelValue(line: string, name: string): string | null {
  let i = line.indexOf("{");
  if (i < 0) return null;
  i += 1;
  while (i < line.length && line[i] !== "}") {
    const eq = line.indexOf('="', i);
    if (eq < 0) return null;
    const key = line.slice(i, eq);
    let j = eq + 2;
    let value = "";
    while (j < line.length && line[j] !== '"') {
      if (line[j] === "\\" && j + 1 < line.length) {
        const c = line[j + 1]!;
        value += c === "n" ? "\n" : c;
        j += 2;
      } else {
        value += line[j];
        j += 1;
      }
    }
    if (key === name) return value;
    i = j + 1;
    if (line[i] === ",") i += 1;
  }
  return null;
}
