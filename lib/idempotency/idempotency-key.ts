import { createHash, randomUUID } from "node:crypto";
import type pg from "pg";
import { AppError } from "../http/app-error";

/**
 * Idempotency-Key (draft-ietf-httpapi-idempotency-key-header), scoped to the user and kept for
 * 24 h: same key + same request → the first response again; same key + another request → 422;
 * while the first request is still being processed → 409. A request that dies before it commits
 * leaves only a short-lived in-flight lock, which a retry takes over once it lapses.
 */
export const IDEMPOTENCY_TTL_HOURS = 24;
export const IN_FLIGHT_LOCK_MINUTES = 15;

export interface StoredResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export type BeginResult =
  | { kind: "proceed"; lockToken: string }
  | { kind: "in_flight" }
  | { kind: "completed"; requestHash: string; response: StoredResponse };

/** Accepts the draft's sf-string form (`"abc"`) and a bare token; 1–255 visible ASCII chars. */
export function parseIdempotencyKey(header: string | null): string | null {
  if (header === null) return null;
  let v = header.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  if (!/^[\x21-\x7e]{1,255}$/.test(v)) {
    throw new AppError("invalid_request", "Idempotency-Key must be 1–255 visible ASCII characters.");
  }
  return v;
}

export function requestFingerprint(parts: (string | Buffer)[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex");
}

type Queryable = Pick<pg.Pool, "query">;

export async function beginIdempotent(db: Queryable, userId: string, key: string): Promise<BeginResult> {
  const lockToken = randomUUID();
  for (let attempt = 0; attempt < 3; attempt++) {
    const claimed = await db.query(
      `INSERT INTO idempotency_records (user_id, key, request_hash, state, lock_token, locked_until, expires_at)
       VALUES ($1, $2, '', 'in_flight', $3, now() + make_interval(mins => $4), now() + make_interval(hours => $5))
       ON CONFLICT (user_id, key) DO UPDATE
         SET request_hash = '', state = 'in_flight', lock_token = EXCLUDED.lock_token,
             locked_until = EXCLUDED.locked_until, expires_at = EXCLUDED.expires_at,
             response_status = NULL, response_body = NULL, response_headers = NULL, created_at = now()
         WHERE idempotency_records.expires_at < now()
            OR (idempotency_records.state = 'in_flight' AND idempotency_records.locked_until < now())
       RETURNING lock_token`,
      [userId, key, lockToken, IN_FLIGHT_LOCK_MINUTES, IDEMPOTENCY_TTL_HOURS],
    );
    if (claimed.rowCount === 1) return { kind: "proceed", lockToken };
    const existing = await db.query<{
      state: string;
      request_hash: string;
      response_status: number | null;
      response_body: unknown;
      response_headers: Record<string, string> | null;
    }>(
      `SELECT state, request_hash, response_status, response_body, response_headers
         FROM idempotency_records WHERE user_id = $1 AND key = $2`,
      [userId, key],
    );
    const row = existing.rows[0];
    if (!row) continue; // purged between the two statements: try again
    if (row.state === "in_flight") return { kind: "in_flight" };
    return {
      kind: "completed",
      requestHash: row.request_hash,
      response: { status: row.response_status ?? 200, body: row.response_body, headers: row.response_headers ?? {} },
    };
  }
  return { kind: "in_flight" };
}

/** Drops our in-flight lock after a failure, so the client may retry with the same key. */
export async function releaseIdempotent(db: Queryable, userId: string, key: string, lockToken: string): Promise<void> {
  await db.query(`DELETE FROM idempotency_records WHERE user_id = $1 AND key = $2 AND lock_token = $3`, [
    userId,
    key,
    lockToken,
  ]);
}

/** Records the response inside the business transaction; fails it if our lock was taken over. */
export async function completeIdempotent(
  tx: Queryable,
  userId: string,
  key: string,
  lockToken: string,
  requestHash: string,
  response: StoredResponse,
): Promise<void> {
  const r = await tx.query(
    `UPDATE idempotency_records
        SET state = 'done', request_hash = $4, response_status = $5, response_body = $6,
            response_headers = $7, lock_token = NULL, locked_until = NULL
      WHERE user_id = $1 AND key = $2 AND lock_token = $3`,
    [userId, key, lockToken, requestHash, response.status, JSON.stringify(response.body), response.headers],
  );
  if (r.rowCount !== 1) {
    throw new AppError("idempotency_key_in_flight", "Another request with this Idempotency-Key took over; retry.");
  }
}

/** Worker job: forget keys older than their retention. */
export async function purgeExpiredIdempotencyKeys(db: Queryable): Promise<number> {
  const r = await db.query(`DELETE FROM idempotency_records WHERE expires_at < now()`);
  return r.rowCount ?? 0;
}
