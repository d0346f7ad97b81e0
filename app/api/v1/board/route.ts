import { pool } from "@/lib/db/pool";
import { board, boardQuery } from "@/lib/health/board-queries";
import { authedRoute, json, parseQuery } from "@/lib/http/route";

export const dynamic = "force-dynamic";

/** The green/yellow/red board: summary, worker liveness, one page of services worst-first. */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async ({ req, principal }) =>
  json(await board(pool(), principal, parseQuery(req, boardQuery))),
);
