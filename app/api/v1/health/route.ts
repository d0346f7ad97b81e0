import type { Principal } from "@/lib/auth/principal";
import { systemPool } from "@/lib/db/pool";
import { healthReport, parseHealthReportQuery } from "@/lib/health/health-report";
import { authenticateRequest } from "@/lib/http/authenticate";
import { isAppError } from "@/lib/http/app-error";
import { json, publicRoute } from "@/lib/http/route";
import { inCallerScope } from "@/lib/tenancy/tenant-access";

export const dynamic = "force-dynamic";

/**
 * `GET /health` (alias `/api/v1/health`): anyone. Always 200 with a JSON report; without a valid
 * token (none, expired, forged) it carries the overall status only, no tenant data — that
 * aggregate is the one read here in the all-tenants scope. With a token, the caller's tenant's
 * services (a global admin: every tenant's, audited).
 */
export const GET = publicRoute(async ({ req, meta }) => {
  const { tenant } = parseHealthReportQuery(req.url);
  let principal: Principal | null = null;
  if (req.headers.has("authorization") || req.headers.has("cookie")) {
    principal = await authenticateRequest(req).catch((err: unknown) => {
      if (isAppError(err) && err.status === 401) return null;
      throw err;
    });
  }
  if (!principal) return json(await healthReport(systemPool(), null, tenant));
  const p = principal;
  if (p.tenantId === null && p.role !== "admin") return json(await healthReport(systemPool(), p, tenant));
  const scopeTenant = p.tenantId === null ? tenant : undefined;
  const scope = { principal: p, tenantParam: scopeTenant, meta, view: "health" };
  return json(await inCallerScope(scope, (c) => healthReport(c, p, tenant)));
});
