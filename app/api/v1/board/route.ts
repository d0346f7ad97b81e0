import { board, boardQuery } from "@/lib/health/board-queries";
import { authedRoute, json, parseQuery } from "@/lib/http/route";
import { inCallerScope } from "@/lib/tenancy/tenant-access";

export const dynamic = "force-dynamic";

/** The green/yellow/red board: summary, worker liveness, one page of services worst-first. */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async ({ req, principal, meta }) => {
  const q = parseQuery(req, boardQuery);
  return json(
    await inCallerScope({ principal, tenantParam: q.tenant, meta, view: "board" }, (c) => board(c, principal, q)),
  );
});
