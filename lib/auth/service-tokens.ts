import { createHash, randomBytes } from "node:crypto";
import type pg from "pg";
import { systemPool } from "../db/pool";
import { AppError } from "../http/app-error";
import { logger } from "../telemetry/logger";
import type { ServicePrincipal } from "./principal";

/**
 * Service tokens (issue 5): opaque bearer secrets `hms_svc_<43 chars>` that an admin issues for a
 * registered service. Only their SHA-256 is stored, so the table leaks nothing usable. A token
 * acts for exactly one tenant and, optionally, a list of queues.
 */
export const SERVICE_TOKEN_PREFIX = "hms_svc_";

/** A queue name: lower-case letters, digits, `.`, `_`, `-`; 1–63 characters, starting alphanumeric. */
export const QUEUE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function isServiceToken(raw: string): boolean {
  return raw.startsWith(SERVICE_TOKEN_PREFIX);
}

export function hashServiceToken(raw: string): string {
  return createHash("sha256").update(raw).digest("hex");
}

export function newServiceTokenSecret(): string {
  return SERVICE_TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

interface TokenRow {
  id: string;
  tenant_id: string;
  service_id: string;
  service_name: string;
  queues: string[] | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

/**
 * Verified tokens are remembered for at most CACHE_TTL_MS per process, so a busy consumer does
 * not cost a lookup per call. Revocation therefore takes effect at once in the process that
 * revoked (forgetServiceToken) and within CACHE_TTL_MS everywhere else. Failures are never
 * cached. `last_used_at` is written at most once per LAST_USED_EVERY_MS per token and process,
 * after the answer (never on the request's path). On globalThis: the web process holds two copies
 * of this module (Next's bundle and the lean data plane), and both must share one cache.
 */
export const CACHE_TTL_MS = 5_000;
const LAST_USED_EVERY_MS = 60_000;
const MAX_ENTRIES = 10_000;

interface CacheEntry {
  principal: ServicePrincipal;
  until: number;
}
interface TokenCacheState {
  byToken: Map<string, CacheEntry>;
  lastUsedWritten: Map<string, number>;
}
const g = globalThis as unknown as { hmsServiceTokenCache?: TokenCacheState };
function cache(): TokenCacheState {
  g.hmsServiceTokenCache ??= { byToken: new Map(), lastUsedWritten: new Map() };
  return g.hmsServiceTokenCache;
}

/** Drops a token from this process's cache (called when it is revoked here). */
export function forgetServiceToken(tokenId: string): void {
  const c = cache();
  for (const [token, e] of c.byToken) if (e.principal.tokenId === tokenId) c.byToken.delete(token);
}

/** Empties this process's cache (tests). */
export function clearServiceTokenCache(): void {
  cache().byToken.clear();
  cache().lastUsedWritten.clear();
}

function touchLastUsed(db: Pick<pg.Pool, "query">, tokenId: string, lastUsedAt: Date | null): void {
  const c = cache();
  const now = Date.now();
  const written = c.lastUsedWritten.get(tokenId) ?? lastUsedAt?.getTime() ?? 0;
  if (now - written < LAST_USED_EVERY_MS) return;
  if (c.lastUsedWritten.size > MAX_ENTRIES) c.lastUsedWritten.clear();
  c.lastUsedWritten.set(tokenId, now);
  void db
    .query(`UPDATE service_tokens SET last_used_at = now() WHERE id = $1`, [tokenId])
    .catch((err: unknown) => logger.debug({ err }, "service token last_used_at not written"));
}

/**
 * Resolves a presented service token. Looked up in the all-tenants scope: the token is what
 * names the tenant. Unknown → 401 token_invalid_signature; revoked → 401 token_revoked.
 */
export async function verifyServiceToken(
  raw: string,
  db: Pick<pg.Pool, "query"> = systemPool(),
): Promise<ServicePrincipal> {
  if (!/^hms_svc_[A-Za-z0-9_-]{20,100}$/.test(raw)) {
    throw new AppError("token_malformed", "This is not a well-formed service token.");
  }
  const c = cache();
  const now = Date.now();
  // Keyed by the presented secret itself (this process sees it on every call anyway), so a hit
  // costs no hashing.
  const hit = c.byToken.get(raw);
  if (hit && hit.until > now) return hit.principal;
  const hash = hashServiceToken(raw);
  const { rows } = await db.query<TokenRow>(
    `SELECT t.id, t.tenant_id, t.service_id, s.name AS service_name, t.queues, t.revoked_at, t.last_used_at
       FROM service_tokens t JOIN services s ON s.id = t.service_id
      WHERE t.token_hash = $1`,
    [hash],
  );
  const row = rows[0];
  if (!row) {
    c.byToken.delete(raw);
    throw new AppError("token_invalid_signature", "This service token is not known.");
  }
  if (row.revoked_at) {
    c.byToken.delete(raw);
    throw new AppError("token_revoked", "This service token has been revoked.");
  }
  const principal: ServicePrincipal = {
    kind: "service",
    tokenId: row.id,
    tenantId: row.tenant_id,
    serviceId: row.service_id,
    serviceName: row.service_name,
    queues: row.queues ?? [],
  };
  if (c.byToken.size >= MAX_ENTRIES) c.byToken.clear();
  c.byToken.set(raw, { principal, until: now + CACHE_TTL_MS });
  touchLastUsed(db, row.id, row.last_used_at);
  return principal;
}

/** Whether a service principal may use `queue` (an empty list means every queue of its tenant). */
export function mayUseQueue(p: ServicePrincipal, queue: string): boolean {
  return p.queues.length === 0 || p.queues.includes(queue);
}
