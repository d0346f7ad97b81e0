import { authedRoute, param, parseQuery } from "@/lib/http/route";
import { requeueFromRequest } from "@/lib/queue/queue-admin";
import { tenantQuery } from "@/lib/queue/queue-schema";

export const dynamic = "force-dynamic";

/** Put a dead message back on its queue (attempts reset) → 204; audited `queue.message_requeued`. */
export const POST = authedRoute({ roles: ["operator", "admin"] }, async (ctx) => {
  const { tenant } = parseQuery(ctx.req, tenantQuery);
  await requeueFromRequest(ctx.principal, param(ctx, "queue"), param(ctx, "id"), tenant, ctx.meta);
  return new Response(null, { status: 204 });
});
