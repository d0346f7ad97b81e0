import type { NextAuthOptions } from "next-auth";
import CredentialsModule from "next-auth/providers/credentials";
import { z } from "zod";
import { appendAudit } from "../audit/append";
import { AppError } from "../http/app-error";
import { requestMeta } from "../http/request-context";
import { authenticate } from "./credentials";
import { roleSchema, type Principal } from "./principal";

// next-auth 4 ships CommonJS: bundlers hand us the function, plain Node ESM (tsx: the worker,
// test processes) the module object around it.
const CredentialsProvider =
  (CredentialsModule as unknown as { default?: typeof CredentialsModule }).default ?? CredentialsModule;

/** next-auth hands authorize() the request's headers as a plain object. */
function headersOf(h: Record<string, unknown> | undefined): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(h ?? {})) if (typeof v === "string") out.set(k, v);
  return out;
}

/** The `error` next-auth reports to the sign-in form when the database is unreachable. */
export const SIGN_IN_UNAVAILABLE = "unavailable";

const credentialsInput = z.object({ username: z.string().min(1).max(200), password: z.string().min(1).max(500) });

/** next-auth for the browser: credentials sign-in, a signed session cookie carrying the principal. */
export const authOptions: NextAuthOptions = {
  secret: process.env.NEXTAUTH_SECRET,
  session: { strategy: "jwt", maxAge: 8 * 60 * 60 },
  pages: { signIn: "/signin", error: "/signin" },
  providers: [
    CredentialsProvider({
      name: "HMS-SYS",
      credentials: {
        username: { label: "Username", type: "text" },
        password: { label: "Password", type: "password" },
      },
      async authorize(raw, req) {
        const parsed = credentialsInput.safeParse(raw);
        if (!parsed.success) return null;
        // Trace id and client IP for the audit trail, by the same rules as every API request.
        const meta = requestMeta(new Request("http://localhost/", { headers: headersOf(req?.headers) }));
        try {
          const p = await authenticate(parsed.data.username, parsed.data.password);
          await appendAudit({
            tenantId: p.tenantId,
            actor: p.username,
            action: "auth.login",
            target: p.userId,
            outcome: "success",
            traceId: meta.traceId,
            ip: meta.ip,
          });
          return { id: p.userId, name: p.username, role: p.role, tenantId: p.tenantId };
        } catch (err) {
          // An outage is not a wrong password: the form shows "try again shortly" for this code.
          if (!(err instanceof AppError && err.code === "invalid_credentials")) throw new Error(SIGN_IN_UNAVAILABLE);
          await appendAudit({
            tenantId: null,
            actor: parsed.data.username,
            action: "auth.login",
            outcome: "failure",
            traceId: meta.traceId,
            ip: meta.ip,
          }).catch(() => {});
          return null;
        }
      },
    }),
  ],
  callbacks: {
    jwt({ token, user }) {
      if (user) {
        const u = user as { id: string; name?: string | null; role?: unknown; tenantId?: unknown };
        token.uid = u.id;
        token.role = u.role;
        token.tenantId = u.tenantId ?? null;
      }
      return token;
    },
    session({ session, token }) {
      return { ...session, principal: principalFromSessionToken(token) };
    },
  },
};

/** Reads the principal back out of a decoded next-auth session token (null if incomplete). */
export function principalFromSessionToken(token: Record<string, unknown> | null): Principal | null {
  if (!token) return null;
  const role = roleSchema.safeParse(token.role);
  if (typeof token.uid !== "string" || typeof token.name !== "string" || !role.success) return null;
  return {
    userId: token.uid,
    username: token.name,
    role: role.data,
    tenantId: typeof token.tenantId === "string" ? token.tenantId : null,
  };
}
