import type pg from "pg";
import { appendAudit } from "../audit/append";
import type { Principal } from "../auth/principal";
import { pool } from "../db/pool";
import { ALL_TENANTS, withAllTenants, withTenant, withTenantPrisma } from "../db/tenant-scope";
import { AppError, isAppError, type ErrorCode } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";
import { checkUrlAllowed, networkPolicyFromEnv } from "../net/network-policy";
import { auditAdminAccess } from "../tenancy/tenant-access";
import { notifyRegistryChange } from "./registry-notify";
import {
  accessFromStored,
  accessToStored,
  canonicalAccess,
  DNS_LABEL,
  encodeCursor,
  type HealthStatus,
  type InstanceInput,
  type ListServicesQuery,
  type ServiceInput,
  type ServicePatch,
  type ServiceSettingValues,
  serviceDefaults,
  type ServiceView,
  sameAccess,
  type UrlWarning,
} from "./service-schema";

/**
 * The service registry's data access (framework-free). Who may do what:
 * - reads: any authenticated caller sees its own tenant's services; a global admin (tenantId
 *   null) sees every tenant's, or one tenant's with `tenant`;
 * - writes: admins only (403 `role_forbidden` otherwise); a tenant-bound admin only in its own
 *   tenant (403 `tenant_forbidden` when it names another); a global admin names the tenant;
 * - drain / enable an instance: admins, and operators of the service's tenant.
 * A service outside the caller's scope is "not found" (404), never 403, so names in other tenants
 * are not confirmed. Tenant scoping happens in one place: `scopeFor` → `Scope`, used by every query.
 *
 * Writes use `pg` in one transaction with their audit event (decision 007); typed reads use Prisma.
 * Every write also sends `NOTIFY hms_registry '<service id>'` in that transaction
 * (registry-notify.ts), so gateway replicas reload the service once the change is committed.
 * Status columns belong to the health prober: this module never computes a status, it only sets
 * `next_check_at = now()` on instances whose configuration changed, so the next probe round
 * re-checks them and recomputes the service status.
 */

export type Scope = { kind: "tenant"; tenantId: string } | { kind: "all" } | { kind: "none" };
type Access = "read" | "write" | "operate";

export interface WriteOptions {
  /** `?tenant=` (global admins; a tenant-bound caller may only name its own tenant). */
  tenant?: string;
  meta?: Partial<Pick<RequestMeta, "traceId" | "ip">>;
  /** DNS resolver for the SSRF check (tests). */
  resolve?: (host: string) => Promise<string[]>;
}

export const UNRESOLVED_WARNING = "does not resolve from here; probes will fail until it does";

function notFound(name: string): AppError {
  return new AppError("not_found", `No service named "${name}".`);
}

function fieldError(path: string, message: string, detail = `${path}: ${message}`): AppError {
  return new AppError("validation_failed", detail, { extra: { errors: [{ path, message }] } });
}

async function tenantExists(client: Pick<pg.PoolClient, "query">, id: string): Promise<boolean> {
  const { rows } = await client.query(`SELECT 1 FROM tenants WHERE id = $1`, [id]);
  return rows.length > 0;
}

/** The one place a caller's role and tenant become the set of services it may touch. */
export async function scopeFor(p: Principal, requested: string | undefined, access: Access): Promise<Scope> {
  if (access === "write" && p.role !== "admin") {
    throw new AppError("role_forbidden", "This action needs the admin role.");
  }
  if (access === "operate" && p.role !== "admin" && p.role !== "operator") {
    throw new AppError("role_forbidden", "This action needs the admin or operator role.");
  }
  if (p.tenantId !== null) {
    if (requested !== undefined && requested !== p.tenantId) {
      // 404 like any other tenant's object: the answer must not tell tenants apart.
      throw new AppError("not_found", "Not found.");
    }
    return { kind: "tenant", tenantId: p.tenantId };
  }
  if (p.role !== "admin") return { kind: "none" };
  if (requested === undefined) return { kind: "all" };
  if (!(await tenantExists(pool(), requested))) throw fieldError("tenant", `no tenant "${requested}"`);
  return { kind: "tenant", tenantId: requested };
}

/**
 * One transaction in a scope's row-level-security context: the tenant's, or every tenant's for a
 * global admin (whose writes are audited by the operations themselves).
 */
export function inScope<T>(scope: Scope, fn: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  if (scope.kind === "tenant") return withTenant(scope.tenantId, fn);
  if (scope.kind === "all") return withAllTenants(fn);
  throw new AppError("not_found", "Not found.");
}

/** The tenant a new service (or an import) is written to. A global admin must name it. */
export async function tenantForCreate(p: Principal, requested: string | undefined): Promise<string> {
  const scope = await scopeFor(p, requested, "write");
  if (scope.kind === "tenant") return scope.tenantId;
  throw fieldError("tenant", "a global admin must name the tenant that owns the service");
}

// ---------------------------------------------------------------------------------------------
// Reads (Prisma)

const viewSelect = {
  tenantId: true,
  name: true,
  description: true,
  healthPath: true,
  checkIntervalSeconds: true,
  timeoutMs: true,
  failureThreshold: true,
  successThreshold: true,
  latencyBudgetMs: true,
  gatewayTimeoutMs: true,
  forwardIdentity: true,
  breakerFailureRatePct: true,
  breakerMinCalls: true,
  breakerConsecutiveFailures: true,
  breakerWindowSeconds: true,
  breakerOpenSeconds: true,
  breakerHalfOpenCalls: true,
  access: true,
  maintenance: true,
  status: true,
  statusReason: true,
  statusChangedAt: true,
  instances: {
    orderBy: [{ createdAt: "asc" as const }, { id: "asc" as const }],
    select: {
      id: true,
      url: true,
      region: true,
      weight: true,
      enabled: true,
      status: true,
      statusReason: true,
      lastCheckedAt: true,
      lastLatencyMs: true,
      lastError: true,
    },
  },
};

type ViewRow = Awaited<ReturnType<typeof findViews>>[number];
function findViews(scope: Scope, where: Record<string, unknown>, take: number) {
  if (scope.kind === "none") return Promise.resolve([]);
  return withTenantPrisma(scope.kind === "tenant" ? scope.tenantId : ALL_TENANTS, (tx) =>
    tx.service.findMany({ where, orderBy: [{ tenantId: "asc" }, { name: "asc" }], take, select: viewSelect }),
  );
}

function toView(s: ViewRow): ServiceView {
  return {
    name: s.name,
    tenant: s.tenantId,
    description: s.description,
    healthPath: s.healthPath,
    checkIntervalSeconds: s.checkIntervalSeconds,
    timeoutMs: s.timeoutMs,
    failureThreshold: s.failureThreshold,
    successThreshold: s.successThreshold,
    latencyBudgetMs: s.latencyBudgetMs,
    gatewayTimeoutMs: s.gatewayTimeoutMs,
    forwardIdentity: s.forwardIdentity,
    breakerFailureRatePct: s.breakerFailureRatePct,
    breakerMinCalls: s.breakerMinCalls,
    breakerConsecutiveFailures: s.breakerConsecutiveFailures,
    breakerWindowSeconds: s.breakerWindowSeconds,
    breakerOpenSeconds: s.breakerOpenSeconds,
    breakerHalfOpenCalls: s.breakerHalfOpenCalls,
    maintenance: s.maintenance,
    access: accessFromStored(s.access),
    status: s.status as HealthStatus,
    statusReason: s.statusReason,
    statusChangedAt: s.statusChangedAt?.toISOString() ?? null,
    instances: s.instances.map((i) => ({
      id: i.id,
      url: i.url,
      region: i.region,
      weight: i.weight,
      enabled: i.enabled,
      status: i.status as HealthStatus,
      statusReason: i.statusReason,
      lastCheckedAt: i.lastCheckedAt?.toISOString() ?? null,
      lastLatencyMs: i.lastLatencyMs,
      lastError: i.lastError,
    })),
  };
}

function ambiguous(name: string, tenants: string[]): AppError {
  return fieldError(
    "tenant",
    `"${name}" exists in several tenants (${tenants.join(", ")}); name one with ?tenant=`,
    `A service named "${name}" exists in several tenants; name one with ?tenant=.`,
  );
}

async function viewByName(scope: Scope, name: string): Promise<ServiceView> {
  if (scope.kind === "none" || !DNS_LABEL.test(name)) throw notFound(name);
  const rows = await findViews(scope, { name, ...(scope.kind === "tenant" ? { tenantId: scope.tenantId } : {}) }, 2);
  if (rows.length > 1) {
    throw ambiguous(
      name,
      rows.map((r) => r.tenantId),
    );
  }
  const row = rows[0];
  if (!row) throw notFound(name);
  return toView(row);
}

async function viewOf(tenantId: string, name: string): Promise<ServiceView> {
  return viewByName({ kind: "tenant", tenantId }, name);
}

/** A global admin's reads cross tenants: recorded in the audit trail (throttled per view). */
async function auditRead(p: Principal, scope: Scope, meta: RequestMeta | undefined, view: string) {
  if (meta && scope.kind !== "none") {
    await auditAdminAccess({ principal: p, meta, view }, scope.kind === "tenant" ? scope.tenantId : null);
  }
}

export async function getService(
  p: Principal,
  name: string,
  tenant?: string,
  meta?: RequestMeta,
): Promise<ServiceView> {
  const scope = await scopeFor(p, tenant, "read");
  await auditRead(p, scope, meta, `service:${name}`);
  return viewByName(scope, name);
}

export async function listServices(
  p: Principal,
  q: ListServicesQuery,
  meta?: RequestMeta,
): Promise<{ items: ServiceView[]; nextCursor: string | null }> {
  const scope = await scopeFor(p, q.tenant, "read");
  await auditRead(p, scope, meta, "services:list");
  if (scope.kind === "none") return { items: [], nextCursor: null };
  const c = q.cursor;
  const rows = await findViews(
    scope,
    {
      ...(scope.kind === "tenant" ? { tenantId: scope.tenantId } : {}),
      ...(q.status ? { status: q.status } : {}),
      ...(c ? { OR: [{ tenantId: { gt: c.tenantId } }, { tenantId: c.tenantId, name: { gt: c.name } }] } : {}),
    },
    q.limit + 1,
  );
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    items: page.map(toView),
    nextCursor: rows.length > q.limit && last ? encodeCursor(last.tenantId, last.name) : null,
  };
}

/** Where a created service can be read back (with `?tenant=` for a global admin). */
export function serviceLocation(p: Principal, view: Pick<ServiceView, "name" | "tenant">): string {
  const path = `/api/v1/services/${encodeURIComponent(view.name)}`;
  return p.tenantId === null ? `${path}?tenant=${encodeURIComponent(view.tenant)}` : path;
}

// ---------------------------------------------------------------------------------------------
// Registration-time URL policy

export interface UrlTarget {
  service: string;
  url: string;
  /** where the URL sits in the input, e.g. ["instances", 0, "url"] */
  path: (string | number)[];
}
export interface UrlRefusal extends UrlTarget {
  code: ErrorCode;
  message: string;
}

/**
 * Runs every instance URL through lib/net/network-policy.ts. A literal address, or a name that
 * resolves to one, outside the policy (loopback, private, link-local / cloud metadata, …) is
 * refused. A name that does not resolve at all (`dns_resolution_failed`, e.g. the seed's
 * `doc_review_svc`, which only resolves inside its own network) is accepted with a warning: the
 * prober's and gateway's connect-time check of the address actually dialled is the real guard,
 * and a registry must be able to describe services before their DNS exists.
 */
export async function vetInstanceUrls(
  targets: UrlTarget[],
  opts: Pick<WriteOptions, "resolve"> = {},
): Promise<{ warnings: UrlWarning[]; refusals: UrlRefusal[] }> {
  const policy = networkPolicyFromEnv();
  // One slot per target, filled concurrently (DNS lookups), read back in input order.
  const outcomes: ({ warning: UrlWarning } | { refusal: UrlRefusal } | null)[] = targets.map(() => null);
  const checkOpts = opts.resolve ? { resolve: opts.resolve } : undefined;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < targets.length; i = next++) {
      const t = targets[i]!;
      try {
        await checkUrlAllowed(t.url, policy, checkOpts);
      } catch (err) {
        if (!isAppError(err)) throw err;
        outcomes[i] =
          err.code === "dns_resolution_failed"
            ? { warning: { name: t.service, url: t.url, message: UNRESOLVED_WARNING } }
            : { refusal: { ...t, code: err.code, message: err.detail } };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, targets.length) }, worker));
  const warnings: UrlWarning[] = [];
  const refusals: UrlRefusal[] = [];
  for (const o of outcomes) {
    if (o && "warning" in o) warnings.push(o.warning);
    else if (o) refusals.push(o.refusal);
  }
  return { warnings, refusals };
}

/** API form: the first refusal's code (e.g. 422 `ssrf_link_local`) with every refusal listed. */
async function vetOrThrow(
  name: string,
  instances: { url: string }[],
  opts: Pick<WriteOptions, "resolve">,
): Promise<UrlWarning[]> {
  const { warnings, refusals } = await vetInstanceUrls(
    instances.map((i, n) => ({ service: name, url: i.url, path: ["instances", n, "url"] })),
    opts,
  );
  const first = refusals[0];
  if (first) {
    throw new AppError(first.code, `${first.path.join(".")}: ${first.message}`, {
      extra: { errors: refusals.map((r) => ({ path: r.path.join("."), message: r.message, code: r.code })) },
    });
  }
  return warnings;
}

// ---------------------------------------------------------------------------------------------
// Diff: what a desired state changes in an existing service (shared by PATCH and import)

export interface ExistingInstance {
  id: string;
  url: string;
  region: string;
  weight: number;
  enabled: boolean;
}
export interface ExistingService extends ServiceSettingValues {
  id: string;
  tenantId: string;
  name: string;
  instances: ExistingInstance[];
}

/** A desired state: `undefined` = keep. */
export type DesiredService = Omit<ServicePatch, "instances"> & { instances?: InstanceInput[] };

/** A full declaration (create, import): omitted settings mean the defaults, omitted description none. */
export function desiredFromInput(input: ServiceInput): DesiredService {
  return {
    name: input.name,
    description: input.description ?? null,
    healthPath: input.healthPath,
    checkIntervalSeconds: input.checkIntervalSeconds,
    timeoutMs: input.timeoutMs,
    failureThreshold: input.failureThreshold,
    successThreshold: input.successThreshold,
    latencyBudgetMs: input.latencyBudgetMs,
    gatewayTimeoutMs: input.gatewayTimeoutMs,
    forwardIdentity: input.forwardIdentity,
    breakerFailureRatePct: input.breakerFailureRatePct,
    breakerMinCalls: input.breakerMinCalls,
    breakerConsecutiveFailures: input.breakerConsecutiveFailures,
    breakerWindowSeconds: input.breakerWindowSeconds,
    breakerOpenSeconds: input.breakerOpenSeconds,
    breakerHalfOpenCalls: input.breakerHalfOpenCalls,
    maintenance: input.maintenance,
    access: input.access ?? canonicalAccess({}),
    instances: input.instances,
  };
}

const columns = {
  name: "name",
  description: "description",
  healthPath: "health_path",
  checkIntervalSeconds: "check_interval_seconds",
  timeoutMs: "timeout_ms",
  failureThreshold: "failure_threshold",
  successThreshold: "success_threshold",
  latencyBudgetMs: "latency_budget_ms",
  gatewayTimeoutMs: "gateway_timeout_ms",
  forwardIdentity: "forward_identity",
  breakerFailureRatePct: "breaker_failure_rate_pct",
  breakerMinCalls: "breaker_min_calls",
  breakerConsecutiveFailures: "breaker_consecutive_failures",
  breakerWindowSeconds: "breaker_window_seconds",
  breakerOpenSeconds: "breaker_open_seconds",
  breakerHalfOpenCalls: "breaker_half_open_calls",
  maintenance: "maintenance",
  access: "access",
} as const;
type Setting = keyof typeof columns;
const settingKeys = Object.keys(columns) as Setting[];
/**
 * Settings whose change should be probed promptly (the next round recomputes status). The
 * gateway and breaker settings are not among them: they do not change what a probe sees; the
 * gateway learns of them through the registry notice (registry-notify.ts).
 */
const probeSettings = new Set<Setting>([
  "healthPath",
  "checkIntervalSeconds",
  "timeoutMs",
  "failureThreshold",
  "successThreshold",
  "latencyBudgetMs",
  "maintenance",
]);

export interface InstanceUpdate {
  id: string;
  from: ExistingInstance;
  url: string;
  region: string;
  weight: number;
  enabled: boolean;
}
export interface ServiceDiff {
  changes: string[];
  set: Partial<Record<Setting, string | number | boolean | null>>;
  probeAll: boolean;
  inserts: InstanceInput[];
  updates: InstanceUpdate[];
  deletes: ExistingInstance[];
  errors: { path: (string | number)[]; message: string }[];
}

const show = (v: unknown) => JSON.stringify(v);
function describeInstance(i: { url: string; region: string; weight: number; enabled?: boolean }): string {
  return `${i.url} (region ${i.region}, weight ${i.weight}${i.enabled === false ? ", drained" : ""})`;
}

export function diffService(existing: ExistingService, desired: DesiredService): ServiceDiff {
  const d: ServiceDiff = { changes: [], set: {}, probeAll: false, inserts: [], updates: [], deletes: [], errors: [] };
  for (const key of settingKeys) {
    if (key === "access") continue; // an object: compared in its canonical form below
    const want = desired[key];
    if (want === undefined || want === existing[key]) continue;
    d.set[key] = want;
    d.changes.push(`${key}: ${show(existing[key])} → ${show(want)}`);
    if (probeSettings.has(key)) d.probeAll = true;
  }
  if (desired.access !== undefined && !sameAccess(desired.access, existing.access)) {
    d.set.access = accessToStored(desired.access);
    d.changes.push(`access: ${show(existing.access)} → ${show(desired.access)}`);
  }
  if (!desired.instances) return d;

  // Match: first by id, then (for entries without an id) by URL among the unclaimed.
  const byId = new Map(existing.instances.map((i) => [i.id, i]));
  const byUrl = new Map(existing.instances.map((i) => [i.url, i]));
  const claimed = new Set<string>();
  const matched: (ExistingInstance | undefined)[] = [];
  desired.instances.forEach((want, n) => {
    if (!want.id) return;
    const e = byId.get(want.id);
    if (!e) d.errors.push({ path: ["instances", n, "id"], message: "no instance with this id in this service" });
    else if (claimed.has(e.id)) d.errors.push({ path: ["instances", n, "id"], message: "this id is listed twice" });
    else {
      claimed.add(e.id);
      matched[n] = e;
    }
  });
  desired.instances.forEach((want, n) => {
    if (want.id) return;
    const e = byUrl.get(want.url);
    if (e && !claimed.has(e.id)) {
      claimed.add(e.id);
      matched[n] = e;
    }
  });

  for (const e of existing.instances) {
    if (!claimed.has(e.id)) {
      d.deletes.push(e);
      d.changes.push(`instance removed: ${e.url}`);
    }
  }
  desired.instances.forEach((want, n) => {
    const e = matched[n];
    if (!e) {
      d.inserts.push(want);
      d.changes.push(`instance added: ${describeInstance(want)}`);
      return;
    }
    const next = { url: want.url, region: want.region, weight: want.weight, enabled: want.enabled ?? e.enabled };
    const what: string[] = [];
    if (next.url !== e.url) what.push(`url → ${next.url}`);
    if (next.region !== e.region) what.push(`region ${show(e.region)} → ${show(next.region)}`);
    if (next.weight !== e.weight) what.push(`weight ${e.weight} → ${next.weight}`);
    if (next.enabled !== e.enabled) what.push(next.enabled ? "enabled" : "drained");
    if (what.length === 0) return;
    d.updates.push({ id: e.id, from: e, ...next });
    d.changes.push(`instance ${e.url}: ${what.join(", ")}`);
  });
  return d;
}

// ---------------------------------------------------------------------------------------------
// Writes (pg, inside the caller's transaction)

type Tx = Pick<pg.PoolClient, "query">;

const serviceCols = `id, tenant_id, name, description, health_path, check_interval_seconds, timeout_ms,
  failure_threshold, success_threshold, latency_budget_ms, gateway_timeout_ms, forward_identity,
  breaker_failure_rate_pct, breaker_min_calls, breaker_consecutive_failures, breaker_window_seconds,
  breaker_open_seconds, breaker_half_open_calls, maintenance, access`;
interface ServiceRowDb {
  id: string;
  tenant_id: string;
  name: string;
  description: string | null;
  health_path: string;
  check_interval_seconds: number;
  timeout_ms: number;
  failure_threshold: number;
  success_threshold: number;
  latency_budget_ms: number;
  gateway_timeout_ms: number;
  forward_identity: boolean;
  breaker_failure_rate_pct: number;
  breaker_min_calls: number;
  breaker_consecutive_failures: number;
  breaker_window_seconds: number;
  breaker_open_seconds: number;
  breaker_half_open_calls: number;
  maintenance: boolean;
  /** jsonb; NULL = the default policy */
  access: unknown;
}
function fromDb(r: ServiceRowDb, instances: ExistingInstance[]): ExistingService {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    description: r.description,
    healthPath: r.health_path,
    checkIntervalSeconds: r.check_interval_seconds,
    timeoutMs: r.timeout_ms,
    failureThreshold: r.failure_threshold,
    successThreshold: r.success_threshold,
    latencyBudgetMs: r.latency_budget_ms,
    gatewayTimeoutMs: r.gateway_timeout_ms,
    forwardIdentity: r.forward_identity,
    breakerFailureRatePct: r.breaker_failure_rate_pct,
    breakerMinCalls: r.breaker_min_calls,
    breakerConsecutiveFailures: r.breaker_consecutive_failures,
    breakerWindowSeconds: r.breaker_window_seconds,
    breakerOpenSeconds: r.breaker_open_seconds,
    breakerHalfOpenCalls: r.breaker_half_open_calls,
    maintenance: r.maintenance,
    access: accessFromStored(r.access),
    instances,
  };
}

async function instancesOf(tx: Tx, serviceIds: string[]): Promise<Map<string, ExistingInstance[]>> {
  const out = new Map<string, ExistingInstance[]>(serviceIds.map((id) => [id, []]));
  if (serviceIds.length === 0) return out;
  const { rows } = await tx.query<ExistingInstance & { service_id: string }>(
    `SELECT id, service_id, url, region, weight, enabled FROM instances
      WHERE service_id = ANY($1::uuid[]) ORDER BY created_at, id`,
    [serviceIds],
  );
  for (const r of rows) {
    out.get(r.service_id)?.push({ id: r.id, url: r.url, region: r.region, weight: r.weight, enabled: r.enabled });
  }
  return out;
}

/** Every service of the given tenants with its instances, ordered by tenant and name. */
export async function loadServices(tx: Tx, tenantIds: string[], opts: { lock: boolean }): Promise<ExistingService[]> {
  if (tenantIds.length === 0) return [];
  const { rows } = await tx.query<ServiceRowDb>(
    `SELECT ${serviceCols} FROM services WHERE tenant_id = ANY($1::text[]) ORDER BY tenant_id, name${opts.lock ? " FOR UPDATE" : ""}`,
    [tenantIds],
  );
  const inst = await instancesOf(
    tx,
    rows.map((r) => r.id),
  );
  return rows.map((r) => fromDb(r, inst.get(r.id) ?? []));
}

/** Locks one service by name within a scope (404 outside it). */
async function lockByName(tx: Tx, scope: Scope, name: string): Promise<ExistingService> {
  if (scope.kind === "none" || !DNS_LABEL.test(name)) throw notFound(name);
  const { rows } =
    scope.kind === "tenant"
      ? await tx.query<ServiceRowDb>(
          `SELECT ${serviceCols} FROM services WHERE tenant_id = $1 AND name = $2 FOR UPDATE`,
          [scope.tenantId, name],
        )
      : await tx.query<ServiceRowDb>(
          `SELECT ${serviceCols} FROM services WHERE name = $1 ORDER BY tenant_id LIMIT 2 FOR UPDATE`,
          [name],
        );
  if (rows.length > 1) {
    throw ambiguous(
      name,
      rows.map((r) => r.tenant_id),
    );
  }
  const row = rows[0];
  if (!row) throw notFound(name);
  const inst = await instancesOf(tx, [row.id]);
  return fromDb(row, inst.get(row.id) ?? []);
}

async function insertInstance(tx: Tx, serviceId: string, tenantId: string, i: InstanceInput): Promise<void> {
  // Instances are listed in the order they were added. created_at has millisecond precision, so
  // two inserts in the same millisecond would tie: each new one is stamped at least 1 ms after the
  // service's newest (the service row is locked or new, so this cannot race).
  await tx.query(
    `INSERT INTO instances (id, service_id, tenant_id, url, region, weight, enabled, status, next_check_at, created_at)
     VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, 'unknown', now(),
             GREATEST(clock_timestamp(),
                      (SELECT max(created_at) FROM instances WHERE service_id = $1) + interval '1 millisecond'))`,
    [serviceId, tenantId, i.url, i.region, i.weight, i.enabled ?? true],
  );
}

/**
 * Inserts a service and its instances (new instances are `unknown` and due for a probe now), and
 * announces it to the gateway replicas (delivered at commit).
 */
export async function insertService(tx: Tx, tenantId: string, s: DesiredService & { name: string }): Promise<string> {
  const d = serviceDefaults;
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO services (id, tenant_id, name, description, health_path, check_interval_seconds, timeout_ms,
       failure_threshold, success_threshold, latency_budget_ms, gateway_timeout_ms, forward_identity,
       breaker_failure_rate_pct, breaker_min_calls, breaker_consecutive_failures, breaker_window_seconds,
       breaker_open_seconds, breaker_half_open_calls, maintenance, access, status, created_at, updated_at)
     VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
       $19::jsonb, 'unknown', now(), now())
     RETURNING id`,
    [
      tenantId,
      s.name,
      s.description ?? null,
      s.healthPath ?? d.healthPath,
      s.checkIntervalSeconds ?? d.checkIntervalSeconds,
      s.timeoutMs ?? d.timeoutMs,
      s.failureThreshold ?? d.failureThreshold,
      s.successThreshold ?? d.successThreshold,
      s.latencyBudgetMs ?? d.latencyBudgetMs,
      s.gatewayTimeoutMs ?? d.gatewayTimeoutMs,
      s.forwardIdentity ?? d.forwardIdentity,
      s.breakerFailureRatePct ?? d.breakerFailureRatePct,
      s.breakerMinCalls ?? d.breakerMinCalls,
      s.breakerConsecutiveFailures ?? d.breakerConsecutiveFailures,
      s.breakerWindowSeconds ?? d.breakerWindowSeconds,
      s.breakerOpenSeconds ?? d.breakerOpenSeconds,
      s.breakerHalfOpenCalls ?? d.breakerHalfOpenCalls,
      s.maintenance ?? false,
      s.access ? accessToStored(s.access) : null,
    ],
  );
  const id = rows[0]!.id;
  for (const i of s.instances ?? []) await insertInstance(tx, id, tenantId, i);
  await notifyRegistryChange(tx, id);
  return id;
}

/**
 * Applies a diff: removed instances first, then moved URLs (via a placeholder), updates, inserts;
 * then announces the service to the gateway replicas. The notice goes out even for an empty diff
 * (an admin saving the form unchanged): a replica that missed a notice gets to reload, and a
 * reload of one service is cheap.
 */
export async function applyServiceDiff(tx: Tx, existing: ExistingService, d: ServiceDiff): Promise<void> {
  const set = Object.entries(d.set) as [Setting, unknown][];
  if (set.length > 0) {
    const assignments = set.map(([k], n) => `${columns[k]} = $${n + 2}`).join(", ");
    await tx.query(`UPDATE services SET ${assignments}, updated_at = now() WHERE id = $1`, [
      existing.id,
      ...set.map(([, v]) => v),
    ]);
  }
  if (d.deletes.length > 0) {
    await tx.query(`DELETE FROM instances WHERE id = ANY($1::uuid[])`, [d.deletes.map((i) => i.id)]);
  }
  const moved = d.updates.filter((u) => u.url !== u.from.url);
  if (moved.length > 0) {
    // Two instances may swap URLs; (service_id, url) is unique, so park them first.
    await tx.query(`UPDATE instances SET url = 'moving:' || id::text WHERE id = ANY($1::uuid[])`, [
      moved.map((u) => u.id),
    ]);
  }
  for (const u of d.updates) {
    const urlChanged = u.url !== u.from.url;
    // A new URL is a new target: its health history says nothing about it.
    const reset = urlChanged
      ? `, status = 'unknown', status_reason = NULL, consecutive_failures = 0, consecutive_successes = 0,
         last_checked_at = NULL, last_latency_ms = NULL, last_error = NULL`
      : "";
    await tx.query(
      `UPDATE instances SET url = $2, region = $3, weight = $4, enabled = $5, next_check_at = now()${reset} WHERE id = $1`,
      [u.id, u.url, u.region, u.weight, u.enabled],
    );
  }
  for (const i of d.inserts) await insertInstance(tx, existing.id, existing.tenantId, i);
  if (d.probeAll) await tx.query(`UPDATE instances SET next_check_at = now() WHERE service_id = $1`, [existing.id]);
  await notifyRegistryChange(tx, existing.id);
}

/** Deletes a service (its instances cascade); replicas reloading the announced id find it gone and drop it. */
export async function deleteServiceRow(tx: Tx, id: string): Promise<void> {
  await tx.query(`DELETE FROM services WHERE id = $1`, [id]);
  await notifyRegistryChange(tx, id);
}

function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return !!e && e.code === "23505" && e.constraint === constraint;
}

/** Maps the (tenant, name) unique index to 409 `service_exists`. */
export async function mapServiceExists<T>(fn: () => Promise<T>, what: () => string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUniqueViolation(err, "services_tenant_id_name_key")) throw new AppError("service_exists", what());
    throw err;
  }
}

function audit(
  tx: Tx,
  p: Principal,
  opts: WriteOptions,
  e: { tenantId: string | null; action: string; target: string; data?: Record<string, unknown> },
) {
  return appendAudit(
    {
      tenantId: e.tenantId,
      actor: p.username,
      action: e.action,
      target: e.target,
      outcome: "success",
      traceId: opts.meta?.traceId ?? null,
      ip: opts.meta?.ip ?? null,
      data: e.data,
    },
    tx,
  );
}
export { audit as auditRegistryWrite };

function diffErrors(errors: ServiceDiff["errors"]): AppError {
  const list = errors.map((e) => ({ path: e.path.join("."), message: e.message }));
  return new AppError("validation_failed", `${list[0]!.path}: ${list[0]!.message}`, { extra: { errors: list } });
}

// ---------------------------------------------------------------------------------------------
// The API's operations

export interface WriteResult {
  service: ServiceView;
  /** instance URLs accepted although they do not resolve from here */
  warnings: UrlWarning[];
}

export async function createService(p: Principal, input: ServiceInput, opts: WriteOptions = {}): Promise<WriteResult> {
  if (input.tenant !== undefined && opts.tenant !== undefined && input.tenant !== opts.tenant) {
    throw fieldError("tenant", "the body's tenant and ?tenant= name different tenants");
  }
  const tenantId = await tenantForCreate(p, input.tenant ?? opts.tenant);
  const withId = input.instances.findIndex((i) => i.id !== undefined);
  if (withId >= 0) throw fieldError(`instances.${withId}.id`, "no instance with this id in this service");
  const warnings = await vetOrThrow(input.name, input.instances, opts);
  await mapServiceExists(
    () =>
      withTenant(tenantId, async (tx) => {
        await insertService(tx, tenantId, desiredFromInput(input) as DesiredService & { name: string });
        await audit(tx, p, opts, {
          tenantId,
          action: "registry.service_create",
          target: input.name,
          data: { instances: input.instances.map((i) => i.url), warnings: warnings.length },
        });
      }),
    () => `A service named "${input.name}" already exists in tenant ${tenantId}.`,
  );
  return { service: await viewOf(tenantId, input.name), warnings };
}

export async function updateService(
  p: Principal,
  name: string,
  patch: ServicePatch,
  opts: WriteOptions = {},
): Promise<WriteResult> {
  const scope = await scopeFor(p, opts.tenant, "write");
  if (scope.kind === "none" || !DNS_LABEL.test(name)) throw notFound(name);
  const warnings = patch.instances ? await vetOrThrow(patch.name ?? name, patch.instances, opts) : [];
  let tenantId = "";
  let newName = name;
  await mapServiceExists(
    () =>
      inScope(scope, async (tx) => {
        const existing = await lockByName(tx, scope, name);
        tenantId = existing.tenantId;
        const d = diffService(existing, patch);
        if (d.errors.length > 0) throw diffErrors(d.errors);
        await applyServiceDiff(tx, existing, d);
        newName = patch.name ?? existing.name;
        await audit(tx, p, opts, {
          tenantId,
          action: "registry.service_update",
          target: newName,
          data: { changes: d.changes, ...(newName !== name ? { renamedFrom: name } : {}) },
        });
      }),
    () => `A service named "${patch.name}" already exists in this tenant.`,
  );
  return { service: await viewOf(tenantId, newName), warnings };
}

export async function deleteService(p: Principal, name: string, opts: WriteOptions = {}): Promise<void> {
  const scope = await scopeFor(p, opts.tenant, "write");
  await inScope(scope, async (tx) => {
    const existing = await lockByName(tx, scope, name);
    // Instances go with it (ON DELETE CASCADE); check history and roll-ups are left to retention.
    await deleteServiceRow(tx, existing.id);
    await audit(tx, p, opts, {
      tenantId: existing.tenantId,
      action: "registry.service_delete",
      target: existing.name,
      data: { instances: existing.instances.map((i) => i.url) },
    });
  });
}

/**
 * Drains (enabled=false) or enables one instance: an operational action, so operators of the
 * tenant may do it too. The prober's next round (due now) recomputes the service status.
 */
export async function setInstanceEnabled(
  p: Principal,
  name: string,
  instanceId: string,
  enabled: boolean,
  opts: WriteOptions = {},
): Promise<ServiceView> {
  const scope = await scopeFor(p, opts.tenant, "operate");
  const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(instanceId);
  let tenantId = "";
  let serviceName = name;
  await inScope(scope, async (tx) => {
    const existing = await lockByName(tx, scope, name);
    const inst = isUuid ? existing.instances.find((i) => i.id === instanceId.toLowerCase()) : undefined;
    if (!inst) throw new AppError("not_found", `Service "${name}" has no instance ${instanceId}.`);
    tenantId = existing.tenantId;
    serviceName = existing.name;
    await tx.query(`UPDATE instances SET enabled = $2, next_check_at = now() WHERE id = $1`, [inst.id, enabled]);
    // Announced even when unchanged: an operator draining again because traffic still arrives
    // makes every replica reload the service instead of trusting a notice it may have missed.
    await notifyRegistryChange(tx, existing.id);
    await audit(tx, p, opts, {
      tenantId,
      action: enabled ? "registry.instance_enable" : "registry.instance_drain",
      target: `${existing.name}/${inst.id}`,
      data: { url: inst.url, changed: inst.enabled !== enabled },
    });
  });
  return viewOf(tenantId, serviceName);
}
