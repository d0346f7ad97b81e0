import { exchangePasswordForToken, tokenRequest } from "@/lib/auth/token-request";
import { json, parseJsonBody, publicRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";

export const POST = publicRoute(async ({ req, meta }) => {
  const input = await parseJsonBody(req, tokenRequest);
  return json(await exchangePasswordForToken(input, meta));
});
