import type pg from "pg";
import { verifyAccessToken } from "../auth/access-token";
import type { Caller } from "../auth/principal";
import { isServiceToken, verifyServiceToken } from "../auth/service-tokens";

/**
 * The gateway's bearer verification: user JWTs and service tokens (`hms_svc_…`).
 *
 * Verified JWTs are remembered for at most 60 s (and never past their `exp`): an ES256
 * verification costs more than the rest of the gateway's hot path together. 60 s matches how
 * long a revoked signing key already keeps validating on a replica (the key cache), so the
 * cache does not widen that window. Failures are not cached (each one is checked again).
 *
 * Service tokens go to the one verifier the queues use (lib/auth/service-tokens.ts), with its
 * own process-wide cache of CACHE_TTL_MS (5 s): they are not cached here again, so a revoked
 * service token stops working at the gateway exactly as fast as at the queues — at once in the
 * revoking process, within 5 s everywhere else.
 */
const TTL_MS = 60_000;
const MAX_ENTRIES = 20_000;

interface Entry {
  caller: Caller;
  until: number;
}

export class TokenCache {
  private entries = new Map<string, Entry>();

  /** `db`: where service tokens are looked up (all-tenants scope: the token names its tenant). */
  constructor(private readonly db?: Pick<pg.Pool, "query">) {}

  async verify(token: string): Promise<Caller> {
    if (isServiceToken(token)) return verifyServiceToken(token, this.db);
    const now = Date.now();
    const hit = this.entries.get(token);
    if (hit && hit.until > now) return hit.caller;
    const caller: Caller = { kind: "user", ...(await verifyAccessToken(token)) };
    const exp = expiryOf(token);
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(token, { caller, until: Math.min(now + TTL_MS, exp ?? now + TTL_MS) });
    return caller;
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
