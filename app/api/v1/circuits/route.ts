import { circuitListQuery, listCircuits } from "@/lib/circuit/circuit-queries";
import { pool } from "@/lib/db/pool";
import { boardTenant } from "@/lib/health/board-queries";
import { authedRoute, json, parseQuery } from "@/lib/http/route";

export const dynamic = "force-dynamic";

/**
 * Every breaker the caller may see, worst first: operators and tenant-bound admins their
 * tenant's, global admins every tenant's (or `?tenant=`), with the same rules as the board.
 */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async ({ req, principal }) => {
  const q = parseQuery(req, circuitListQuery);
  return json(await listCircuits(pool(), { ...q, tenant: boardTenant(principal, q.tenant) }));
});
