import { changeClaimStatusFromRequest } from "@/lib/claims/claim-status-change";
import { statusChangeBody } from "@/lib/claims/claim-transitions";
import { callerRoute, json, param, parseJsonBody } from "@/lib/http/route";

export const dynamic = "force-dynamic";

/**
 * Move a claim along its lifecycle: `{"status": "IN_REVIEW" | "DECIDED" | "NEEDS_INFO", "note"?,
 * "from"?: [...]}`. Operators and admins of the claim's tenant, and service tokens of that tenant
 * allowed on the `claim-review` queue. Already there → 200 with `changed: false`; a move the
 * lifecycle does not allow → 409 `claim_transition_invalid`; another tenant's claim → 404.
 */
export const POST = callerRoute({ roles: ["operator", "admin"], services: true }, async (ctx) => {
  const body = await parseJsonBody(ctx.req, statusChangeBody);
  const tenant = new URL(ctx.req.url).searchParams.get("tenant") ?? undefined;
  return json(await changeClaimStatusFromRequest(ctx.caller, param(ctx, "id"), body, ctx.meta, tenant));
});
