import { verifyAccessToken } from "../auth/access-token";
import type { Principal } from "../auth/principal";

/**
 * Verified bearer tokens, remembered for at most 60 s (and never past their `exp`): an ES256
 * verification costs more than the rest of the gateway's hot path together. 60 s matches how
 * long a revoked signing key already keeps validating on a replica (the key cache), so the
 * cache does not widen that window. Failures are not cached (each one is checked again).
 */
const TTL_MS = 60_000;
const MAX_ENTRIES = 20_000;

interface Entry {
  principal: Principal;
  until: number;
}

export class TokenCache {
  private entries = new Map<string, Entry>();

  async verify(token: string): Promise<Principal> {
    const now = Date.now();
    const hit = this.entries.get(token);
    if (hit && hit.until > now) return hit.principal;
    const principal = await verifyAccessToken(token);
    const exp = expiryOf(token);
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(token, { principal, until: Math.min(now + TTL_MS, exp ?? now + TTL_MS) });
    return principal;
  }
}

function expiryOf(token: string): number | null {
  try {
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as {
      exp?: unknown;
    };
    return typeof payload.exp === "number" ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}
