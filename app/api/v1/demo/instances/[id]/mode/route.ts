import { fleetModeInput, setDemoInstanceMode } from "@/lib/demo-fleet/fleet-control";
import { authedRoute, param, parseJsonBody } from "@/lib/http/route";

export const dynamic = "force-dynamic";

export const POST = authedRoute({ roles: ["operator", "admin"] }, async (ctx) => {
  const { mode } = await parseJsonBody(ctx.req, fleetModeInput);
  await setDemoInstanceMode(ctx.principal, param(ctx, "id"), mode);
  return new Response(null, { status: 204 });
});
