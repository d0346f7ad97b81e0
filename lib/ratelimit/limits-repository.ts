import type pg from "pg";
import { appendAudit } from "../audit/append";
import type { Principal } from "../auth/principal";
import { pool } from "../db/pool";
import { withTenant, withTenantOrAll } from "../db/tenant-scope";
import { AppError } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";
import { logger } from "../telemetry/logger";
import { CONFIG_CHANNEL, RATELIMIT_PAYLOAD_PREFIX } from "./limits-cache";
import type { BucketLimitInput, LimitInput, LimitView } from "./limits-contract";

/**
 * Rate limits as configured by admins: one row per tenant and scope in `rate_limits` ("*" =
 * the tenant's gateway and intake traffic, or a service name = gateway traffic to that service,
 * checked on top of the tenant-wide limit). The tenant-wide row may carry `perCaller`: then each
 * user or service token of the tenant has its own bucket (`rate_buckets` scope `caller:<id>`,
 * created full on first use) inside the tenant-wide one.
 *
 * Who may do what: admins write, a tenant-bound admin only for its own tenant (403
 * `tenant_forbidden` for another, decided before looking the tenant up so nothing is confirmed),
 * a global admin for any existing tenant (404 `not_found` otherwise). Operators read their own
 * tenant's limits.
 *
 * A write commits the limit, its audit event and a full shared bucket together (and forgets the
 * callers' buckets of a tenant-wide limit, so they start full too), then announces
 * itself with `NOTIFY hms_config 'ratelimit:<tenant>'` so every replica reloads within
 * milliseconds (the periodic reload covers a lost notification).
 */

export interface WriteOptions {
  meta?: Partial<Pick<RequestMeta, "traceId" | "ip">>;
}

type Access = "read" | "write";
type Queryable = Pick<pg.PoolClient, "query">;

interface LimitRow {
  tenant_id: string;
  scope: string;
  rps: number;
  burst: number;
  per_caller_rps: number | null;
  per_caller_burst: number | null;
  updated_at: Date;
  updated_by: string;
}

const COLUMNS = `tenant_id, scope, rps, burst, per_caller_rps, per_caller_burst, updated_at, updated_by`;
/** The rate_buckets scopes of a tenant's callers (perCaller): `caller:<id>`. */
const CALLER_SCOPES = `scope LIKE 'caller:%'`;

function perCallerOf(r: { per_caller_rps: number | null; per_caller_burst: number | null }): BucketLimitInput | null {
  return r.per_caller_rps !== null && r.per_caller_burst !== null
    ? { rps: r.per_caller_rps, burst: r.per_caller_burst }
    : null;
}
const ORDER = `ORDER BY tenant_id, scope <> '*', scope`;

function toView(r: LimitRow): LimitView {
  return {
    tenant: r.tenant_id,
    service: r.scope === "*" ? null : r.scope,
    rps: r.rps,
    burst: r.burst,
    perCaller: perCallerOf(r),
    updatedAt: r.updated_at.toISOString(),
    updatedBy: r.updated_by,
  };
}

/** Role and tenant checks, then the tenant must exist. */
async function authorize(p: Principal, tenant: string, access: Access, db: Queryable): Promise<void> {
  if (access === "write" && p.role !== "admin") {
    throw new AppError("role_forbidden", "Changing rate limits needs the admin role.");
  }
  if (access === "read" && p.role !== "admin" && p.role !== "operator") {
    throw new AppError("role_forbidden", "Reading rate limits needs the admin or operator role.");
  }
  if (p.tenantId !== tenant && (p.tenantId !== null || p.role !== "admin")) {
    // 404 like any other tenant's object: the answer must not tell tenants apart.
    throw new AppError("not_found", `No agency "${tenant}".`);
  }
  const { rows } = await db.query(`SELECT 1 FROM tenants WHERE id = $1`, [tenant]);
  if (rows.length === 0) throw new AppError("not_found", `No agency "${tenant}".`);
}

function scopeOf(service: string | null | undefined): string {
  return service ?? "*";
}

async function announce(tenant: string): Promise<void> {
  await pool()
    .query(`SELECT pg_notify($1, $2)`, [CONFIG_CHANNEL, `${RATELIMIT_PAYLOAD_PREFIX}${tenant}`])
    .catch((err: unknown) => logger.warn({ err, tenant }, "rate limit NOTIFY failed; replicas reload within 30 s"));
}

export async function listLimits(p: Principal, tenant: string): Promise<{ items: LimitView[]; nextCursor: null }> {
  await authorize(p, tenant, "read", pool());
  const { rows } = await withTenant(tenant, (c) =>
    c.query<LimitRow>(`SELECT ${COLUMNS} FROM rate_limits WHERE tenant_id = $1 ${ORDER}`, [tenant]),
  );
  return { items: rows.map(toView), nextCursor: null };
}

/** Sets (creates or replaces) one limit and refills its shared bucket. */
export async function upsertLimit(
  p: Principal,
  tenant: string,
  input: LimitInput,
  opts: WriteOptions = {},
): Promise<LimitView> {
  const scope = scopeOf(input.service);
  const view = await withTenant(tenant, async (c) => {
    await authorize(p, tenant, "write", c);
    if (input.service) {
      const svc = await c.query(`SELECT 1 FROM services WHERE tenant_id = $1 AND name = $2`, [tenant, input.service]);
      if (svc.rows.length === 0) {
        const message = `no service named "${input.service}" is registered for ${tenant}`;
        throw new AppError("validation_failed", `service: ${message}`, {
          extra: { errors: [{ path: "service", message }] },
        });
      }
    }
    const prev = await c.query<Pick<LimitRow, "rps" | "burst" | "per_caller_rps" | "per_caller_burst">>(
      `SELECT rps, burst, per_caller_rps, per_caller_burst FROM rate_limits WHERE tenant_id = $1 AND scope = $2 FOR UPDATE`,
      [tenant, scope],
    );
    // perCaller belongs to the tenant-wide limit (the schema refuses it with a service); a write
    // without it removes it.
    const perCaller = scope === "*" ? (input.perCaller ?? null) : null;
    const { rows } = await c.query<LimitRow>(
      `INSERT INTO rate_limits (tenant_id, scope, rps, burst, per_caller_rps, per_caller_burst, updated_at, updated_by)
       VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), $7)
       ON CONFLICT (tenant_id, scope) DO UPDATE
         SET rps = EXCLUDED.rps, burst = EXCLUDED.burst, per_caller_rps = EXCLUDED.per_caller_rps,
             per_caller_burst = EXCLUDED.per_caller_burst, updated_at = EXCLUDED.updated_at,
             updated_by = EXCLUDED.updated_by
       RETURNING ${COLUMNS}`,
      [tenant, scope, input.rps, input.burst, perCaller?.rps ?? null, perCaller?.burst ?? null, p.username],
    );
    // A new limit starts from a full bucket, whatever the old one had left.
    await c.query(
      `INSERT INTO rate_buckets (tenant_id, scope, tokens, refilled_at)
       VALUES ($1, $2, $3, date_trunc('milliseconds', clock_timestamp()))
       ON CONFLICT (tenant_id, scope) DO UPDATE SET tokens = EXCLUDED.tokens, refilled_at = EXCLUDED.refilled_at`,
      [tenant, scope, input.burst],
    );
    // Callers' buckets start full again on their first request (a missing row is a full bucket).
    if (scope === "*") await c.query(`DELETE FROM rate_buckets WHERE tenant_id = $1 AND ${CALLER_SCOPES}`, [tenant]);
    const before = prev.rows[0];
    await appendAudit(
      {
        tenantId: tenant,
        actor: p.username,
        action: "ratelimit.update",
        target: scope,
        outcome: "success",
        traceId: opts.meta?.traceId ?? null,
        ip: opts.meta?.ip ?? null,
        data: {
          service: input.service ?? null,
          rps: input.rps,
          burst: input.burst,
          perCaller,
          previous: before ? { rps: before.rps, burst: before.burst, perCaller: perCallerOf(before) } : null,
        },
      },
      c,
    );
    return toView(rows[0]!);
  });
  await announce(tenant);
  return view;
}

/** Removes one limit (that scope becomes unlimited). 404 when there was none. */
export async function deleteLimit(
  p: Principal,
  tenant: string,
  service: string | undefined,
  opts: WriteOptions = {},
): Promise<void> {
  const scope = scopeOf(service);
  await withTenant(tenant, async (c) => {
    await authorize(p, tenant, "write", c);
    const { rows } = await c.query<Pick<LimitRow, "rps" | "burst" | "per_caller_rps" | "per_caller_burst">>(
      `DELETE FROM rate_limits WHERE tenant_id = $1 AND scope = $2 RETURNING rps, burst, per_caller_rps, per_caller_burst`,
      [tenant, scope],
    );
    const removed = rows[0];
    if (!removed) {
      throw new AppError(
        "not_found",
        service ? `No limit is set for ${service} in ${tenant}.` : `No limit is set for ${tenant}.`,
      );
    }
    await c.query(`DELETE FROM rate_buckets WHERE tenant_id = $1 AND scope = $2`, [tenant, scope]);
    if (scope === "*") await c.query(`DELETE FROM rate_buckets WHERE tenant_id = $1 AND ${CALLER_SCOPES}`, [tenant]);
    await appendAudit(
      {
        tenantId: tenant,
        actor: p.username,
        action: "ratelimit.delete",
        target: scope,
        outcome: "success",
        traceId: opts.meta?.traceId ?? null,
        ip: opts.meta?.ip ?? null,
        data: {
          service: service ?? null,
          previous: { rps: removed.rps, burst: removed.burst, perCaller: perCallerOf(removed) },
        },
      },
      c,
    );
  });
  await announce(tenant);
}

export interface TenantLimits {
  tenant: string;
  limits: LimitView[];
  /** the tenant's registered services, for the admin form's per-service choice */
  services: string[];
}

/** Every tenant an admin may manage, with its limits and service names (the admin page). */
export async function limitsOverview(p: Principal): Promise<TenantLimits[]> {
  if (p.role !== "admin") throw new AppError("role_forbidden", "Rate limits are managed by admins.");
  const only = p.tenantId;
  const [tenants, limits, services] = await withTenantOrAll(only, (db) =>
    Promise.all([
      db.query<{ id: string }>(`SELECT id FROM tenants WHERE ($1::text IS NULL OR id = $1) ORDER BY id`, [only]),
      db.query<LimitRow>(`SELECT ${COLUMNS} FROM rate_limits WHERE ($1::text IS NULL OR tenant_id = $1) ${ORDER}`, [
        only,
      ]),
      db.query<{ tenant_id: string; name: string }>(
        `SELECT tenant_id, name FROM services WHERE ($1::text IS NULL OR tenant_id = $1) ORDER BY tenant_id, name`,
        [only],
      ),
    ]),
  );
  return tenants.rows.map(({ id }) => ({
    tenant: id,
    limits: limits.rows.filter((r) => r.tenant_id === id).map(toView),
    services: services.rows.filter((s) => s.tenant_id === id).map((s) => s.name),
  }));
}
