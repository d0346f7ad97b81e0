import { z } from "zod";
import type { Caller } from "../auth/principal";
import { withTenant, type TenantClient } from "../db/tenant-scope";
import { AppError } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";
import { inClaimScope, type ClaimFilter } from "./claim-access";
import { userPrincipal } from "./claim-status-change";
import { claimIdPattern } from "./claim-transitions";

/**
 * Bulk status (VA Benefits Intake style): `POST /api/v1/claims/status {"ids": [...]}` with 1 to
 * 1,000 ids answers the status of each claim the caller may see, in the order asked, and lists
 * every other id under `missing` — malformed, unknown, someone else's and another tenant's ids
 * alike, so the answer confirms nothing about claims the caller cannot see. One query, bounded
 * by row-level security and, for a veteran, by ownership.
 */
export const BULK_STATUS_MAX_IDS = 1000;

export const bulkStatusBody = z
  .object({
    ids: z
      .array(z.string().max(64))
      .min(1, "ids: send at least one claim id")
      .max(BULK_STATUS_MAX_IDS, `ids: at most ${BULK_STATUS_MAX_IDS} claim ids per request`),
  })
  .strict();
export type BulkStatusBody = z.infer<typeof bulkStatusBody>;

/** A service token sees every claim of its tenant (row-level security is the whole filter). */
const WHOLE_TENANT: ClaimFilter = { sql: "$1::text IS NULL", value: null };

export interface BulkStatusItem {
  claim_id: string;
  status: string;
  updated_at: string;
}
export interface BulkStatusAnswer {
  items: BulkStatusItem[];
  missing: string[];
}

/** The statuses of `ids` visible through `filter`, inside a tenant-scoped transaction. */
export async function bulkStatus(
  c: TenantClient,
  filter: ClaimFilter,
  ids: readonly string[],
): Promise<BulkStatusAnswer> {
  const unique = [...new Set(ids)];
  const wellFormed = unique.filter((id) => claimIdPattern.test(id));
  const found = new Map<string, BulkStatusItem>();
  if (wellFormed.length > 0) {
    const { rows } = await c.query<{ id: string; status: string; updated_at: Date }>(
      `SELECT c.id, c.status, c.updated_at FROM claims c WHERE c.id = ANY($2::text[]) AND ${filter.sql}`,
      [filter.value, wellFormed],
    );
    for (const r of rows) found.set(r.id, { claim_id: r.id, status: r.status, updated_at: r.updated_at.toISOString() });
  }
  const items: BulkStatusItem[] = [];
  const missing: string[] = [];
  for (const id of unique) {
    const hit = found.get(id);
    if (hit) items.push(hit);
    else missing.push(id);
  }
  return { items, missing };
}

/**
 * For an HTTP caller: veterans see their own claims, operators (and tenant admins) their
 * tenant's, a global admin the tenant named by `?tenant=` or all (audited), and a service token its
 * tenant's (a reviewer checks where a claim stands before it works on it).
 */
export function bulkStatusFromRequest(
  caller: Caller,
  body: BulkStatusBody,
  meta: RequestMeta,
  tenantParam?: string,
): Promise<BulkStatusAnswer> {
  if (caller.kind === "service") {
    if (tenantParam !== undefined && tenantParam !== caller.tenantId) {
      // 404 like any other tenant's object (as resolveTenant answers users).
      throw new AppError("not_found", "Not found.");
    }
    return withTenant(caller.tenantId, (c) => bulkStatus(c, WHOLE_TENANT, body.ids));
  }
  return inClaimScope(userPrincipal(caller), { meta, view: "claims:status", tenantParam }, (c, filter) =>
    bulkStatus(c, filter, body.ids),
  );
}
