import { stuckClaimsFromRequest, stuckClaimsQuery } from "@/lib/claims/stuck-claims";
import { authedRoute, json, parseQuery } from "@/lib/http/route";

export const dynamic = "force-dynamic";

/**
 * The stuck-claims watchdog: claims QUEUED or IN_REVIEW for longer than HMS_STUCK_CLAIM_MINUTES,
 * oldest first, with the health of the tenant's `claim-review` service and queue.
 */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async (ctx) =>
  json(await stuckClaimsFromRequest(ctx.principal, parseQuery(ctx.req, stuckClaimsQuery), ctx.meta)),
);
