import { getClaim } from "@/lib/claims/claim-queries";
import { authedRoute, json, param } from "@/lib/http/route";

export const dynamic = "force-dynamic";

export const GET = authedRoute({}, async (ctx) => json(await getClaim(ctx.principal, param(ctx, "id"), ctx.meta)));
