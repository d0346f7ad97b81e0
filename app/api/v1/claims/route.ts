import { listClaims, listClaimsQuery } from "@/lib/claims/claim-queries";
import { authedRoute, json, parseQuery } from "@/lib/http/route";
import { submitClaim } from "@/lib/intake/submit-claim";

export const dynamic = "force-dynamic";

export const POST = authedRoute({ roles: ["veteran"] }, async ({ req, principal, meta }) => {
  const r = await submitClaim(req, principal, meta);
  return json(r.body, {
    status: r.status,
    headers: { ...r.headers, ...(r.replayed ? { "Idempotent-Replayed": "true" } : {}) },
  });
});

export const GET = authedRoute({}, async ({ req, principal }) =>
  json(await listClaims(principal, parseQuery(req, listClaimsQuery))),
);
