import { authenticateRequest } from "@/lib/http/authenticate";
import { isAppError } from "@/lib/http/app-error";
import { json, publicRoute } from "@/lib/http/route";
import { pool } from "@/lib/db/pool";
import { healthReport, parseHealthReportQuery } from "@/lib/health/health-report";
import type { Principal } from "@/lib/auth/principal";

export const dynamic = "force-dynamic";

/**
 * `GET /health` (alias `/api/v1/health`): anyone. Always 200 with a JSON report; without a valid
 * token (none, expired, forged) it carries the overall status only, no tenant data.
 */
export const GET = publicRoute(async ({ req }) => {
  const { tenant } = parseHealthReportQuery(req.url);
  let principal: Principal | null = null;
  if (req.headers.has("authorization") || req.headers.has("cookie")) {
    principal = await authenticateRequest(req).catch((err: unknown) => {
      if (isAppError(err) && err.status === 401) return null;
      throw err;
    });
  }
  return json(await healthReport(pool(), principal, tenant));
});
