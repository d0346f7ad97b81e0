import { publicJwks } from "@/lib/auth/signing-keys";
import { json, publicRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";

export const GET = publicRoute(async () =>
  json(await publicJwks(), {
    headers: { "cache-control": "public, max-age=300", "content-type": "application/jwk-set+json" },
  }),
);
