import { getToken } from "next-auth/jwt";
import { verifyAccessToken } from "../auth/access-token";
import { principalFromSessionToken } from "../auth/next-auth-options";
import type { Caller, Principal } from "../auth/principal";
import { isServiceToken, verifyServiceToken } from "../auth/service-tokens";
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
  if (cookie && /next-auth\.session-token/.test(cookie)) {
    // next-auth 4's getToken reads `req.cookies` (an object), not the Cookie header.
    const token = await getToken({
      req: { headers: Object.fromEntries(req.headers.entries()), cookies: parseCookies(cookie) } as never,
      secret: process.env.NEXTAUTH_SECRET,
      secureCookie: /__Secure-next-auth\.session-token/.test(cookie),
    });
    const p = principalFromSessionToken(token as Record<string, unknown> | null);
    if (p) {
      assertSameOrigin(req);
      return p;
    }
  }
  throw new AppError("token_missing", "Sign in, or send `Authorization: Bearer <token>`.");
}

/**
 * Like authenticateRequest, but also accepts a service token (`Bearer hms_svc_…`), for the routes
 * registered services call (queues, claim status).
 */
export async function authenticateCaller(req: Request): Promise<Caller> {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.get("authorization") ?? "");
  if (m && isServiceToken(m[1]!)) return verifyServiceToken(m[1]!);
  return { kind: "user", ...(await authenticateRequest(req)) };
}

function parseCookies(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i <= 0) continue;
    const name = part.slice(0, i).trim();
    try {
      out[name] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      out[name] = part.slice(i + 1).trim();
    }
  }
  return out;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Cookie-authenticated writes must come from our own pages. SameSite=Lax keeps other sites'
 * forms out, but not a sibling subdomain's; browsers send `Origin` on every cross-origin request
 * and on same-origin POST/PATCH/DELETE, so a write whose Origin is not ours (or missing) is refused.
 * Bearer-token clients are unaffected: a token is never sent implicitly.
 */
function assertSameOrigin(req: Request): void {
  if (SAFE_METHODS.has(req.method)) return;
  const origin = req.headers.get("origin");
  const host = req.headers.get("x-forwarded-host") ?? req.headers.get("host");
  let ok = false;
  try {
    ok = origin !== null && host !== null && new URL(origin).host === host;
  } catch {
    ok = false;
  }
  if (!ok) throw new AppError("origin_forbidden", "Cross-origin writes with a session cookie are not allowed.");
}
