import { authedRoute, json, parseQuery } from "@/lib/http/route";
import { queueStatsFromRequest } from "@/lib/queue/queue-admin";
import { tenantQuery } from "@/lib/queue/queue-schema";

export const dynamic = "force-dynamic";

/**
 * Per-queue figures of the caller's tenant (a global admin: `?tenant=`, or every tenant):
 * `{"items": [{tenant, queue, depth, delayed, inFlight, dead, doneLastHour, oldestReadyAgeSeconds,
 * lastLeaseAt, maxAttempts, visibilitySeconds}], "nextCursor": null}`.
 */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async (ctx) =>
  json(await queueStatsFromRequest(ctx.principal, parseQuery(ctx.req, tenantQuery).tenant, ctx.meta)),
);
