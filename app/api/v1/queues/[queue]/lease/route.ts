import { callerRoute, json, param } from "@/lib/http/route";
import { leaseFromCaller } from "@/lib/queue/queue-api";
import { parseJsonText, readLimitedText } from "@/lib/queue/queue-schema";

export const dynamic = "force-dynamic";

/**
 * Lease messages: `{"max"?, "visibilitySeconds"?, "waitSeconds"?}` → `{"messages": [{id, payload,
 * attempts}]}`; with waitSeconds it long-polls and ends early when the client goes away.
 */
export const POST = callerRoute({ services: true, roles: ["operator", "admin"] }, async (ctx) => {
  const body = parseJsonText(await readLimitedText(ctx.req));
  return json(await leaseFromCaller(ctx.caller, param(ctx, "queue"), body, ctx.req.signal));
});
