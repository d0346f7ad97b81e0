import { JWKS_MAX_AGE_SECONDS, publicJwks } from "@/lib/auth/signing-keys";
import { json, publicRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";

export const GET = publicRoute(async () =>
  json(await publicJwks(), {
    headers: { "cache-control": `public, max-age=${JWKS_MAX_AGE_SECONDS}`, "content-type": "application/jwk-set+json" },
  }),
);
