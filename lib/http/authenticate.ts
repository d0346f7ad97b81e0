import { getToken } from "next-auth/jwt";
import { verifyAccessToken } from "../auth/access-token";
import { principalFromSessionToken } from "../auth/next-auth-options";
import type { Principal } from "../auth/principal";
import { AppError } from "./app-error";

/**
 * Who is calling: a bearer JWT (API clients, SDK, other services) or, failing that, the browser's
 * next-auth session cookie (our own pages; SameSite=Lax keeps cross-site posts out).
 */
export async function authenticateRequest(req: Request): Promise<Principal> {
  const header = req.headers.get("authorization");
  if (header !== null) {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!m) throw new AppError("token_malformed", "The Authorization header must be `Bearer <token>`.");
    return verifyAccessToken(m[1]!);
  }
  const cookie = req.headers.get("cookie");
  if (cookie && /next-auth\.session-token=/.test(cookie)) {
    const token = await getToken({
      req: { headers: Object.fromEntries(req.headers.entries()) } as never,
      secret: process.env.NEXTAUTH_SECRET,
      secureCookie: /__Secure-next-auth\.session-token=/.test(cookie),
    });
    const p = principalFromSessionToken(token as Record<string, unknown> | null);
    if (p) return p;
  }
  throw new AppError("token_missing", "Sign in, or send `Authorization: Bearer <token>`.");
}
