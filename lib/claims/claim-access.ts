import type { Principal } from "../auth/principal";
import type { TenantClient } from "../db/tenant-scope";
import { AppError } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";
import { inCallerScope } from "../tenancy/tenant-access";

/**
 * Who may see which claims (ARCHITECTURE.md §5): a veteran their own, an operator their agency's,
 * an admin any agency's through the audited cross-tenant path (every read is an
 * `admin.cross_tenant_access` audit event; a global admin may name `?tenant=`). A claim the
 * caller cannot see is "not found" (404, never 403, so other people's claim ids are not
 * confirmed). Row-level security bounds every query to the tenant either way.
 */
export interface ClaimFilter {
  /** SQL condition on the `claims c` alias, with $1 bound to `value` */
  sql: string;
  value: string | null;
}

export function claimFilter(p: Principal): ClaimFilter {
  if (p.role === "veteran") return { sql: "c.veteran_id = $1::uuid", value: p.userId };
  // Operators and admins: the tenant scope of the transaction is the whole filter.
  return { sql: "$1::text IS NULL", value: null };
}

/** Runs `fn` in the caller's claim scope; `orElse` is the answer for a caller who sees no claims. */
export function inClaimScope<T>(
  p: Principal,
  /** `everyAccess: false` for lists that dashboards poll (recorded once per 10 min per admin) */
  r: { meta: RequestMeta; view: string; tenantParam?: string; everyAccess?: boolean },
  fn: (c: TenantClient, filter: ClaimFilter) => Promise<T>,
  orElse: () => T = () => {
    throw new AppError("not_found", "No such claim.");
  },
): Promise<T> {
  // An operator or veteran without an agency sees no claims (and is told nothing more).
  if (p.tenantId === null && p.role !== "admin") return Promise.resolve().then(orElse);
  return inCallerScope(
    {
      principal: p,
      tenantParam: r.tenantParam,
      meta: r.meta,
      view: r.view,
      auditEveryAccess: p.role === "admin" && (r.everyAccess ?? true),
    },
    (c) => fn(c, claimFilter(p)),
  );
}
