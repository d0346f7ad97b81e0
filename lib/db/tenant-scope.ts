import pg from "pg";
import { pool, withTransaction } from "./pool";
import { db } from "./prisma";

export type PrismaTx = Parameters<Parameters<ReturnType<typeof db>["$transaction"]>[0]>[0];

/**
 * The one way tenant-facing code reaches tenant-owned rows (decision 017). Every table with a
 * tenant_id column has row-level security FORCED with a policy on the transaction-local setting
 * app.tenant_id; this opens a transaction, sets it, and runs `fn` on that connection. Inside, a
 * query that forgets `WHERE tenant_id = …` still sees only the caller's tenant; a write into
 * another tenant fails the policy's WITH CHECK. The setting ends with the transaction, so a
 * pooled connection never carries a tenant into the next request.
 */
export const ALL_TENANTS = "*";

export type TenantClient = pg.PoolClient;

function scoped<T>(p: pg.Pool, tenant: string, fn: (c: TenantClient) => Promise<T>): Promise<T> {
  // One round trip for BEGIN and the setting (a simple-protocol multi-statement query).
  return withTransaction(p, fn, `BEGIN; SELECT set_config('app.tenant_id', ${pg.escapeLiteral(tenant)}, true)`);
}

/** Runs `fn` in one transaction that sees and writes only `tenantId`'s rows. */
export function withTenant<T>(tenantId: string, fn: (c: TenantClient) => Promise<T>, p: pg.Pool = pool()): Promise<T> {
  if (!tenantId || tenantId === ALL_TENANTS) throw new Error("withTenant needs one tenant id");
  return scoped(p, tenantId, fn);
}

/**
 * Runs `fn` in one transaction across every tenant. Only for the explicit, audited admin path
 * (lib/tenancy/admin-scope.ts) and system work that is handed the app pool; never for a
 * tenant's own request.
 */
export function withAllTenants<T>(fn: (c: TenantClient) => Promise<T>, p: pg.Pool = pool()): Promise<T> {
  return scoped(p, ALL_TENANTS, fn);
}

/**
 * The same scope for Prisma code: one interactive transaction whose first statement sets
 * app.tenant_id. `tenant` is one tenant id, or ALL_TENANTS for the audited admin path.
 */
export function withTenantPrisma<T>(tenant: string, fn: (tx: PrismaTx) => Promise<T>): Promise<T> {
  if (!tenant) throw new Error("withTenantPrisma needs a tenant id (or ALL_TENANTS)");
  return db().$transaction(async (tx) => {
    await tx.$queryRaw`SELECT set_config('app.tenant_id', ${tenant}, true)`;
    return fn(tx);
  });
}

/**
 * withTenant for one tenant, withAllTenants for null: for operations whose own filters already
 * name the tenant or, for a global admin, every tenant (and which are audited themselves).
 */
export function withTenantOrAll<T>(
  tenant: string | null,
  fn: (c: TenantClient) => Promise<T>,
  p: pg.Pool = pool(),
): Promise<T> {
  return tenant === null ? withAllTenants(fn, p) : withTenant(tenant, fn, p);
}
