import { callerRoute, param } from "@/lib/http/route";
import { ackFromCaller } from "@/lib/queue/queue-api";

export const dynamic = "force-dynamic";

/** Ack a leased message → 204 (409 `message_not_leased` when it is not leased). */
export const POST = callerRoute({ services: true, roles: ["operator", "admin"] }, async (ctx) => {
  await ackFromCaller(ctx.caller, param(ctx, "queue"), param(ctx, "id"));
  return new Response(null, { status: 204 });
});
