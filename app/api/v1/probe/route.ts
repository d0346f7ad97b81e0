import { probeRequest, testProbe } from "@/lib/health/prober";
import { authedRoute, json, parseJsonBody } from "@/lib/http/route";
import { networkPolicyFromEnv } from "@/lib/net/network-policy";

export const dynamic = "force-dynamic";

/** Probes one URL now (admin): `{ outcome, reason, httpStatus, latencyMs }`; SSRF refusals are 422. */
export const POST = authedRoute({ roles: ["admin"] }, async ({ req }) =>
  json(await testProbe(await parseJsonBody(req, probeRequest), networkPolicyFromEnv())),
);
