import type pg from "pg";
import { appendAudit } from "../audit/append";
import type { Principal } from "../auth/principal";
import { withAllTenants, withTenant, type TenantClient } from "../db/tenant-scope";
import { AppError } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";

/**
 * Which tenant a request acts in, and the transaction it runs in (decision 017).
 *
 * - A user bound to a tenant (veteran, operator, tenant admin) always acts in their own tenant;
 *   naming another one is refused.
 * - A tenant admin reading personal data (`auditEveryAccess`, claims) is recorded as
 *   `admin.data_access` in its tenant's chain.
 * - A global admin (no tenant) acts across tenants only through this explicit path: every such
 *   access is recorded in the audit trail as `admin.cross_tenant_access` (in the viewed tenant's
 *   chain, or the global chain for "all tenants"). Dashboards that poll are recorded at most
 *   once per admin, view and tenant every AUDIT_REPEAT_MS per process; views of claims (personal
 *   data) are recorded every time (`auditEveryAccess`).
 */
export const AUDIT_REPEAT_MS = 10 * 60_000;

export interface ScopeRequest {
  principal: Principal;
  /** the `?tenant=` a caller asked for, if any */
  tenantParam?: string | undefined;
  meta: RequestMeta;
  /** what is being looked at, e.g. "board", "claims:list", "claim:CLM-12" */
  view: string;
  auditEveryAccess?: boolean;
}

/** The tenant a request acts in: its own, or (global admin) the one named, or null = all. */
export function resolveTenant(p: Principal, tenantParam: string | undefined): string | null {
  if (p.tenantId === null) {
    if (p.role === "admin") return tenantParam ?? null;
    throw new AppError("tenant_forbidden", "Your account is not bound to a tenant.");
  }
  // 404 like any other tenant's object: the answer must not tell tenants apart.
  if (tenantParam !== undefined && tenantParam !== p.tenantId) throw new AppError("not_found", "Not found.");
  return p.tenantId;
}

const lastAudited = new Map<string, number>();

function shouldAudit(key: string, every: boolean, now = Date.now()): boolean {
  if (every) return true;
  const last = lastAudited.get(key);
  if (last !== undefined && now - last < AUDIT_REPEAT_MS) return false;
  if (lastAudited.size > 10_000) lastAudited.clear();
  lastAudited.set(key, now);
  return true;
}

function crossTenantEvent(r: ScopeRequest, tenant: string | null) {
  return {
    tenantId: tenant,
    actor: r.principal.username,
    action: "admin.cross_tenant_access",
    target: r.view,
    outcome: "success" as const,
    traceId: r.meta.traceId,
    ip: r.meta.ip,
    data: { tenant: tenant ?? "*" },
  };
}

/**
 * Records a global admin's access to `tenant` (null = all) on its own, for read paths that run
 * their query elsewhere (Prisma reads). A no-op for tenant-bound callers.
 */
export async function auditAdminAccess(r: ScopeRequest, tenant: string | null): Promise<void> {
  if (r.principal.tenantId !== null) return;
  if (!shouldAudit(`${r.principal.userId}|${r.view}|${tenant ?? "*"}`, r.auditEveryAccess ?? false)) return;
  await appendAudit(crossTenantEvent(r, tenant));
}

/**
 * Runs `fn` in the caller's tenant scope; `tenant` is the tenant acted in (null = all tenants,
 * global admins only).
 */
export async function inCallerScope<T>(
  r: ScopeRequest,
  fn: (c: TenantClient, tenant: string | null) => Promise<T>,
  p?: pg.Pool,
): Promise<T> {
  const tenant = resolveTenant(r.principal, r.tenantParam);
  if (r.principal.tenantId !== null) {
    // A tenant-bound caller stays in its tenant; an admin's reads of personal data are still recorded.
    if (!(r.auditEveryAccess && r.principal.role === "admin"))
      return withTenant(r.principal.tenantId, (c) => fn(c, tenant), p);
    return withTenant(
      r.principal.tenantId,
      async (c) => {
        await appendAudit({ ...crossTenantEvent(r, r.principal.tenantId), action: "admin.data_access" }, c);
        return fn(c, tenant);
      },
      p,
    );
  }
  const audit = shouldAudit(`${r.principal.userId}|${r.view}|${tenant ?? "*"}`, r.auditEveryAccess ?? false);
  const run = async (c: TenantClient) => {
    if (audit) await appendAudit(crossTenantEvent(r, tenant), c);
    return fn(c, tenant);
  };
  return tenant === null ? withAllTenants(run, p) : withTenant(tenant, run, p);
}
