import { callerRoute, param } from "@/lib/http/route";
import { nackFromCaller } from "@/lib/queue/queue-api";
import { parseJsonText, readLimitedText } from "@/lib/queue/queue-schema";

export const dynamic = "force-dynamic";

/** Nack a leased message: `{"delaySeconds"?, "error"?}` → 204; dead once it reached max attempts. */
export const POST = callerRoute({ services: true, roles: ["operator", "admin"] }, async (ctx) => {
  const body = parseJsonText(await readLimitedText(ctx.req));
  await nackFromCaller(ctx.caller, param(ctx, "queue"), param(ctx, "id"), body);
  return new Response(null, { status: 204 });
});
