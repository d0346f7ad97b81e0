import { createHmac, type KeyObject } from "node:crypto";

/**
 * The canonical encoding of one audit event, and the chain hash over it (issue 5, decision 018).
 *
 * The encoding is built from values PostgreSQL produces, never from what the writer passed in:
 * `data` is read back as `jsonb::text` (PostgreSQL orders jsonb keys and normalises whitespace)
 * and `at` as whole milliseconds since the epoch (the column is timestamptz(3)), so the same row
 * encodes to the same bytes in every process, time zone and driver.
 *
 * Format (version 1): one line of PostgreSQL's COPY text format (tab-separated, `\N` for NULL,
 * backslash escapes for backslash, \b \f \n \r \t \v) of the columns
 * `1, id, tenant_id, actor, action, target, outcome, trace_id, ip, at_ms, data`, as UTF-8 bytes.
 * The escaping makes it unambiguous whatever the values contain, it is documented and has not
 * changed in decades, and it is what `COPY … TO STDOUT` prints — the cheapest way PostgreSQL has
 * to turn a million rows into text, which is how the sealer and the verifier read events
 * (`canonicalColumns` + lib/audit/copy-out.ts). `canonicalEvent` is the same encoding in
 * TypeScript, for tests and for re-checking an exported chain offline.
 */
export const CANONICAL_VERSION = 1;

/** 64 zeros: the prev_hash of the first event of every chain. */
export const GENESIS_HASH = "0".repeat(64);

/** Number of columns `canonicalColumns` yields. */
export const CANONICAL_FIELDS = 11;

export interface CanonicalFields {
  /** audit_events.id as decimal text */
  id: string;
  tenantId: string | null;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  traceId: string | null;
  ip: string | null;
  /** milliseconds since the epoch, decimal text */
  atMs: string;
  /** `data::text` as PostgreSQL prints jsonb, or null */
  data: string | null;
}

const ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
};

/** One field as COPY's text format prints it (CopyAttributeOutText with a tab delimiter). */
export function copyText(v: string | null): string {
  return v === null ? "\\N" : v.replace(/[\\\b\f\n\r\t\v]/g, (c) => ESCAPES[c]!);
}

export function canonicalEvent(e: CanonicalFields): string {
  return [
    String(CANONICAL_VERSION),
    e.id,
    e.tenantId,
    e.actor,
    e.action,
    e.target,
    e.outcome,
    e.traceId,
    e.ip,
    e.atMs,
    e.data,
  ]
    .map(copyText)
    .join("\t");
}

/**
 * The canonical columns of an `audit_events` row aliased `e`, for a COPY select list (all NULL
 * but the version when the row is missing under a LEFT JOIN). `date_part` is a double: exact
 * here, because `at` has millisecond precision and ::bigint rounds.
 */
export function canonicalColumns(e = "e"): string {
  return `${CANONICAL_VERSION}, ${e}.id, ${e}.tenant_id, ${e}.actor, ${e}.action, ${e}.target, ${e}.outcome, ${e}.trace_id, ${e}.ip, (date_part('epoch', ${e}.at) * 1000)::bigint, ${e}.data`;
}

/** hash = HMAC-SHA256(key, prevHash || canonical), lower-case hex. */
export function chainHash(key: Buffer | KeyObject, prevHash: string, canonical: string | Uint8Array): string {
  return createHmac("sha256", key).update(prevHash).update(canonical).digest("hex");
}

/** The chain an event belongs to: its tenant, or "" for events without one. */
export function chainOf(tenantId: string | null): string {
  return tenantId ?? "";
}
