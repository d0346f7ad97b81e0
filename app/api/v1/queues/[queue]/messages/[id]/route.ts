import { authedRoute, param, parseQuery } from "@/lib/http/route";
import { discardFromRequest } from "@/lib/queue/queue-admin";
import { tenantQuery } from "@/lib/queue/queue-schema";

export const dynamic = "force-dynamic";

/** Discard a message for good → 204; audited `queue.message_discarded`. */
export const DELETE = authedRoute({ roles: ["operator", "admin"] }, async (ctx) => {
  const { tenant } = parseQuery(ctx.req, tenantQuery);
  await discardFromRequest(ctx.principal, param(ctx, "queue"), param(ctx, "id"), tenant, ctx.meta);
  return new Response(null, { status: 204 });
});
