import { SignJWT } from "jose";
import { randomUUID } from "node:crypto";
import { setting } from "../config/env";
import type { Caller } from "../auth/principal";
import { currentSigner, SIGNING_ALG } from "../auth/signing-keys";

/**
 * The token an upstream receives when its service is configured to get the caller's identity:
 * signed by us (same keys and JWKS as access tokens), naming the caller, but with an audience
 * of that one service and a 60 s lifetime — never the caller's own token, which could be
 * replayed against any other service. Cached per (caller, service) for half its life so the hot
 * path signs at most every 30 s per pair.
 *
 * A user caller: `sub` = the user id, with `role` and `username`. A service-token caller:
 * `sub` = `service:<name>` (also `username`, so a service that shows "who" shows that), no
 * `role` (a service token has none), and `service` = its service's name.
 */
export const IDENTITY_TOKEN_TTL_SECONDS = 60;
const REUSE_MS = (IDENTITY_TOKEN_TTL_SECONDS * 1000) / 2;
const MAX_CACHED = 10_000;

export function identityAudience(tenantId: string, service: string): string {
  return `hms-svc:${tenantId}/${service}`;
}

const cache = new Map<string, { token: string; at: number }>();

export async function identityTokenFor(c: Caller, tenantId: string, service: string): Promise<string> {
  const subject = c.kind === "service" ? `service:${c.serviceName}` : c.userId;
  const k = `${subject}\u0000${tenantId}\u0000${service}`;
  const hit = cache.get(k);
  const now = Date.now();
  if (hit && now - hit.at < REUSE_MS) return hit.token;
  const { kid, privateKey } = await currentSigner();
  const claims =
    c.kind === "service"
      ? { tenant: c.tenantId, username: subject, service: c.serviceName }
      : { tenant: c.tenantId, role: c.role, username: c.username };
  const token = await new SignJWT({ ...claims, act: { sub: "hms-gateway" } })
    .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: "JWT" })
    .setIssuer(setting("HMS_JWT_ISSUER"))
    .setAudience(identityAudience(tenantId, service))
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(`${IDENTITY_TOKEN_TTL_SECONDS}s`)
    .setJti(randomUUID())
    .sign(privateKey);
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(k, { token, at: now });
  return token;
}
