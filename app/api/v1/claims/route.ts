import { listClaims, listClaimsQuery } from "@/lib/claims/claim-queries";
import { callerKeyOf } from "@/lib/gateway/access-policy";
import { authedRoute, json, parseQuery } from "@/lib/http/route";
import { submitClaim } from "@/lib/intake/submit-claim";
import { rateLimitedError, rateLimitHeaders } from "@/lib/ratelimit/rate-limit-headers";
import { rateLimiter, type RateDecision } from "@/lib/ratelimit/shared-limiter";
import { recordIntakeRequest, recordRateLimited } from "@/lib/telemetry/metrics";

export const dynamic = "force-dynamic";

/**
 * The tenant's rate limit comes before the body is read: a rejected upload costs no bytes and no
 * database work. Every answer is counted in the intake metrics and traffic roll-ups ("intake").
 */
export async function POST(req: Request, rc: { params: Promise<Record<string, string | string[] | undefined>> }) {
  const started = performance.now();
  let tenant: string | null = null;
  let limited = false;
  let limitedBy = "tenant";
  const res = await authedRoute({ roles: ["veteran"] }, async ({ req, principal, meta }) => {
    tenant = principal.tenantId;
    let rate: RateDecision | null = null;
    if (tenant) {
      // the gateway's caller key (`user:<id>`): a tenant's perCaller limit counts uploads per veteran
      const d0 = rateLimiter().check(tenant, undefined, callerKeyOf({ kind: "user", ...principal }));
      rate = d0 instanceof Promise ? await d0 : d0;
      if (!rate.allowed) {
        limited = true;
        limitedBy = rate.policyName || "tenant";
        throw rateLimitedError(rate);
      }
    }
    const r = await submitClaim(req, principal, meta);
    return json(r.body, {
      status: r.status,
      headers: {
        ...r.headers,
        ...(rate ? rateLimitHeaders(rate) : {}),
        ...(r.replayed ? { "Idempotent-Replayed": "true" } : {}),
      },
    });
  })(req, rc);
  if (tenant !== null) {
    if (limited) recordRateLimited({ tenant, service: "intake", scope: limitedBy });
    else recordIntakeRequest({ tenant, status: res.status, latencyMs: performance.now() - started });
  }
  return res;
}

export const GET = authedRoute({}, async ({ req, principal, meta }) =>
  json(await listClaims(principal, parseQuery(req, listClaimsQuery), meta)),
);
