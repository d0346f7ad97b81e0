import { createHash, createSecretKey, type KeyObject } from "node:crypto";
import { setting } from "../config/env";

/**
 * The HMAC keys of the audit chain. `HMS_AUDIT_KEY` seals new events; keys retired by a rotation
 * stay listed in `HMS_AUDIT_PREVIOUS_KEYS` (comma-separated) so seals made with them still
 * verify. Each seal records its key's id (first 16 hex digits of the key's SHA-256), never the key.
 * The keys live only in the processes' environment: a database writer alone cannot forge a seal.
 */
export interface AuditKey {
  id: string;
  secret: Buffer;
  /** the same key as a KeyObject (cheaper per HMAC) */
  object: KeyObject;
}

export interface AuditKeyRing {
  current: AuditKey;
  byId: ReadonlyMap<string, AuditKey>;
}

export const MIN_AUDIT_KEY_LENGTH = 32;

export function auditKeyId(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex").slice(0, 16);
}

function toKey(key: string): AuditKey {
  const secret = Buffer.from(key, "utf8");
  return { id: auditKeyId(key), secret, object: createSecretKey(secret) };
}

/** Builds the ring from explicit values (tests, tools); `keyRing()` reads the environment. */
export function keyRingFrom(current: string, previous: readonly string[] = []): AuditKeyRing {
  if (current.length < MIN_AUDIT_KEY_LENGTH) {
    throw new Error(`HMS_AUDIT_KEY must be at least ${MIN_AUDIT_KEY_LENGTH} characters`);
  }
  const cur = toKey(current);
  const byId = new Map<string, AuditKey>();
  for (const p of previous) {
    if (p.length < MIN_AUDIT_KEY_LENGTH) {
      throw new Error(`each HMS_AUDIT_PREVIOUS_KEYS entry must be at least ${MIN_AUDIT_KEY_LENGTH} characters`);
    }
    const k = toKey(p);
    byId.set(k.id, k);
  }
  byId.set(cur.id, cur);
  return { current: cur, byId };
}

export function parsePreviousKeys(raw: string | undefined): string[] {
  return (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The ring from HMS_AUDIT_KEY and HMS_AUDIT_PREVIOUS_KEYS; throws when HMS_AUDIT_KEY is unset. */
export function keyRing(): AuditKeyRing {
  const current = setting("HMS_AUDIT_KEY");
  if (!current) throw new Error("HMS_AUDIT_KEY is not set: the audit chain cannot be sealed or verified");
  return keyRingFrom(current, parsePreviousKeys(process.env.HMS_AUDIT_PREVIOUS_KEYS));
}
