import { openClaimEventStream } from "@/lib/claims/claim-event-stream";
import { authedRoute, param } from "@/lib/http/route";

export const dynamic = "force-dynamic";

/**
 * A claim's live timeline (Server-Sent Events): a `snapshot` event, then a `status` event per
 * change; `Last-Event-ID` resumes. Owner veteran, or operator/admin of the tenant; 404 otherwise.
 */
export const GET = authedRoute({}, async (ctx) => {
  const url = new URL(ctx.req.url);
  return openClaimEventStream({
    principal: ctx.principal,
    claimId: param(ctx, "id"),
    lastEventId: ctx.req.headers.get("last-event-id") ?? url.searchParams.get("lastEventId"),
    tenantParam: url.searchParams.get("tenant") ?? undefined,
    meta: ctx.meta,
    signal: ctx.req.signal,
  });
});
