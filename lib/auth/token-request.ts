import { z } from "zod";
import { appendAudit } from "../audit/append";
import type { RequestMeta } from "../http/request-context";
import { issueAccessToken, tokenSettings } from "./access-token";
import { authenticate } from "./credentials";

export const tokenRequest = z.object({
  username: z.string().min(1).max(200),
  password: z.string().min(1).max(500),
});
export type TokenRequest = z.infer<typeof tokenRequest>;

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
}

/** Password grant for API clients: checks credentials, audits the outcome, issues a JWT. */
export async function exchangePasswordForToken(input: TokenRequest, meta: RequestMeta): Promise<TokenResponse> {
  const audit = { actor: input.username, action: "auth.token_issue", traceId: meta.traceId, ip: meta.ip } as const;
  let principal;
  try {
    principal = await authenticate(input.username, input.password);
  } catch (err) {
    await appendAudit({ ...audit, tenantId: null, outcome: "failure" }).catch(() => {});
    throw err;
  }
  const s = tokenSettings();
  const access_token = await issueAccessToken(principal, s);
  await appendAudit({ ...audit, tenantId: principal.tenantId, outcome: "success", target: principal.userId });
  return { access_token, token_type: "Bearer", expires_in: s.ttlSeconds };
}
