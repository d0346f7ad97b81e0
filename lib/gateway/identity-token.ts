import { SignJWT } from "jose";
import { randomUUID } from "node:crypto";
import { setting } from "../config/env";
import type { Principal } from "../auth/principal";
import { currentSigner, SIGNING_ALG } from "../auth/signing-keys";

/**
 * The token an upstream receives when its service is configured to get the caller's identity:
 * signed by us (same keys and JWKS as access tokens), naming the caller, but with an audience
 * of that one service and a 60 s lifetime — never the caller's own token, which could be
 * replayed against any other service. Cached per (caller, service) for half its life so the hot
 * path signs at most every 30 s per pair.
 */
export const IDENTITY_TOKEN_TTL_SECONDS = 60;
const REUSE_MS = (IDENTITY_TOKEN_TTL_SECONDS * 1000) / 2;
const MAX_CACHED = 10_000;

export function identityAudience(tenantId: string, service: string): string {
  return `hms-svc:${tenantId}/${service}`;
}

const cache = new Map<string, { token: string; at: number }>();

export async function identityTokenFor(p: Principal, tenantId: string, service: string): Promise<string> {
  const k = `${p.userId}\u0000${tenantId}\u0000${service}`;
  const hit = cache.get(k);
  const now = Date.now();
  if (hit && now - hit.at < REUSE_MS) return hit.token;
  const { kid, privateKey } = await currentSigner();
  const token = await new SignJWT({
    tenant: p.tenantId,
    role: p.role,
    username: p.username,
    act: { sub: "hms-gateway" },
  })
    .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: "JWT" })
    .setIssuer(setting("HMS_JWT_ISSUER"))
    .setAudience(identityAudience(tenantId, service))
    .setSubject(p.userId)
    .setIssuedAt()
    .setExpirationTime(`${IDENTITY_TOKEN_TTL_SECONDS}s`)
    .setJti(randomUUID())
    .sign(privateKey);
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(k, { token, at: now });
  return token;
}
