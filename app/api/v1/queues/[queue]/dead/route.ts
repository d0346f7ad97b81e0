import { authedRoute, json, param, parseQuery } from "@/lib/http/route";
import { deadLettersFromRequest, deadLettersQuery } from "@/lib/queue/queue-admin";

export const dynamic = "force-dynamic";

/** Dead letters of a queue, newest first: `{"items": […], "nextCursor"}` (`?cursor=&limit=`). */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async (ctx) =>
  json(
    await deadLettersFromRequest(ctx.principal, param(ctx, "queue"), parseQuery(ctx.req, deadLettersQuery), ctx.meta),
  ),
);
