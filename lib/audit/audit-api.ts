import { z } from "zod";
import type { Principal } from "../auth/principal";
import { withAllTenants, withTenant } from "../db/tenant-scope";
import { AppError } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";
import { inCallerScope, resolveTenant } from "../tenancy/tenant-access";
import {
  auditCsvStream,
  listAuditEvents,
  type AuditFilters,
  type AuditListQuery,
  type AuditPage,
} from "./audit-queries";
import { chainOf } from "./canonical";
import { keyRing, type AuditKeyRing } from "./keys";
import { verifyAuditChain, type VerifyResult } from "./verifier";

/**
 * What the audit routes do for a caller (operators and admins): verify their tenant's chain, list
 * and export its events. Every read runs in the caller's scope (inCallerScope: own tenant; a
 * global admin names one with `?tenant=`, or acts across all, which is itself audited).
 */
export const auditVerifyQuery = z.object({
  tenant: z.preprocess((v) => (v === "" ? undefined : v), z.string().min(1).max(100).optional()),
});

function configuredKeys(): AuditKeyRing {
  try {
    return keyRing();
  } catch (err) {
    throw new AppError("dependency_unavailable", `The audit trail cannot be verified: ${(err as Error).message}.`);
  }
}

export interface VerifyAnswer extends VerifyResult {
  /** the tenant whose chain this is; null = the global chain (events without a tenant) */
  tenant: string | null;
}

/** Verifies the caller's chain: their tenant's, or for a global admin `?tenant=`'s or the global one. */
export async function verifyForCaller(
  p: Principal,
  tenantParam: string | undefined,
  meta: RequestMeta,
): Promise<VerifyAnswer> {
  const keys = configuredKeys();
  return inCallerScope({ principal: p, tenantParam, meta, view: "audit:verify" }, async (c, tenant) => ({
    ...(await verifyAuditChain(c, chainOf(tenant), { keys })),
    tenant,
  }));
}

export function listForCaller(p: Principal, q: AuditListQuery, meta: RequestMeta): Promise<AuditPage> {
  return inCallerScope({ principal: p, tenantParam: q.tenant, meta, view: "audit:events" }, (c, tenant) =>
    listAuditEvents(c, q, tenant),
  );
}

/**
 * The CSV export. Scope and filters are checked (and a global admin's access recorded) before the
 * first byte, so a refusal is still a problem+json answer; the rows then stream a page at a time,
 * each page in its own short transaction of the same scope.
 */
export async function csvForCaller(
  p: Principal,
  f: AuditFilters,
  meta: RequestMeta,
): Promise<{ stream: ReadableStream<Uint8Array>; filename: string }> {
  const tenant = resolveTenant(p, f.tenant);
  await inCallerScope(
    { principal: p, tenantParam: f.tenant, meta, view: "audit:export", auditEveryAccess: true },
    async (c) => {
      if (f.event) {
        const { rows } = await c.query(`SELECT 1 FROM audit_events WHERE id = $1`, [f.event]);
        if (rows.length === 0) throw new AppError("not_found", "No such audit event.");
      }
    },
  );
  const stream = auditCsvStream(f, (fn) =>
    tenant === null ? withAllTenants((c) => fn(c, null)) : withTenant(tenant, (c) => fn(c, tenant)),
  );
  const day = new Date().toISOString().slice(0, 10);
  return { stream, filename: `audit-${tenant ?? "all-agencies"}-${day}.csv` };
}
