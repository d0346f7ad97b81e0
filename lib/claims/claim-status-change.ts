import { actorOf, type Caller, type Principal } from "../auth/principal";
import { mayUseQueue } from "../auth/service-tokens";
import { withTenant, type TenantClient } from "../db/tenant-scope";
import { AppError } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";
import { CLAIM_REVIEW_QUEUE } from "../intake/store-claim";
import { inCallerScope } from "../tenancy/tenant-access";
import { transitionClaim, type StatusChangeBody } from "./claim-transitions";

/**
 * `POST /api/v1/claims/<id>/status` for an HTTP caller: an operator or admin of the claim's tenant
 * (a global admin through the audited cross-tenant path), or a registered service's token of that
 * tenant whose queue scope includes `claim-review` (the reviewers). Answers the claim summary.
 */
export interface StatusChangeAnswer {
  claim_id: string;
  status: string;
  changed: boolean;
  updated_at: string;
}

/** The Principal of a user caller (the Caller without its `kind` tag). */
export function userPrincipal(c: Extract<Caller, { kind: "user" }>): Principal {
  return { userId: c.userId, username: c.username, role: c.role, tenantId: c.tenantId };
}

/** Runs `fn` in the caller's tenant: a service token's own, or a user's (audited for global admins). */
export function inCallerTenant<T>(
  caller: Caller,
  r: { meta: RequestMeta; view: string; tenantParam?: string | undefined },
  fn: (c: TenantClient, tenant: string | null) => Promise<T>,
): Promise<T> {
  if (caller.kind === "service") {
    if (r.tenantParam !== undefined && r.tenantParam !== caller.tenantId) {
      // 404 like any other tenant's object (as resolveTenant answers users).
      throw new AppError("not_found", "Not found.");
    }
    return withTenant(caller.tenantId, (c) => fn(c, caller.tenantId));
  }
  return inCallerScope(
    {
      principal: userPrincipal(caller),
      tenantParam: r.tenantParam,
      meta: r.meta,
      view: r.view,
      auditEveryAccess: true,
    },
    fn,
  );
}

export function changeClaimStatusFromRequest(
  caller: Caller,
  claimId: string,
  body: StatusChangeBody,
  meta: RequestMeta,
  tenantParam?: string,
): Promise<StatusChangeAnswer> {
  if (caller.kind === "service" && !mayUseQueue(caller, CLAIM_REVIEW_QUEUE)) {
    throw new AppError("queue_forbidden", `This service token may not work the ${CLAIM_REVIEW_QUEUE} queue.`);
  }
  return inCallerTenant(caller, { meta, view: `claim:${claimId}`, tenantParam }, async (c, tenant) => {
    const r = await transitionClaim(c, {
      tenantId: tenant,
      claimId,
      to: body.status,
      note: body.note,
      expectedFrom: body.from,
      actor: actorOf(caller),
      meta,
    });
    return { claim_id: r.claimId, status: r.status, changed: r.changed, updated_at: r.updatedAt };
  });
}
