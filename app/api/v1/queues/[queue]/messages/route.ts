import { json, param, callerRoute } from "@/lib/http/route";
import { sendFromCaller } from "@/lib/queue/queue-api";
import { parseJsonText, readLimitedText } from "@/lib/queue/queue-schema";

export const dynamic = "force-dynamic";

/**
 * Send a message: `{"payload": {…}, "delaySeconds"?}` → 201 `{"id"}`. Service tokens (their
 * tenant, their queues) and operators/admins of a tenant. In the web process the lean data plane
 * (lib/queue/queue-http.ts) answers this path first; this file serves it elsewhere (tests, `next dev`).
 */
export const POST = callerRoute({ services: true, roles: ["operator", "admin"] }, async (ctx) => {
  const body = parseJsonText(await readLimitedText(ctx.req));
  return json(await sendFromCaller(ctx.caller, param(ctx, "queue"), body), { status: 201 });
});
