import { randomUUID } from "node:crypto";
import type pg from "pg";
import { appendAudit } from "../audit/append";
import { logger } from "../telemetry/logger";
import type { Principal } from "../auth/principal";
import { withTenant } from "../db/tenant-scope";
import type { PdfReport } from "../documents/pdf-inspect";
import type { RequestMeta } from "../http/request-context";
import { completeIdempotent, type StoredResponse } from "../idempotency/idempotency-key";
import type { ServerTiming } from "../telemetry/server-timing";
import { storageChunks, type ReadBody } from "./read-body";

export const DOCUMENT_CHUNK_BYTES = 1024 * 1024;
export const CLAIM_REVIEW_QUEUE = "claim-review";

export interface StoreClaimInput {
  principal: Principal & { tenantId: string };
  body: ReadBody;
  report: PdfReport;
  contentType: string;
  meta: RequestMeta;
  idempotency: { key: string; lockToken: string; requestHash: string } | null;
  /** Optional phase timer (Server-Timing): chunks, rows, commit. */
  timing?: ServerTiming;
  /** Builds the response to remember for the idempotency key, once the claim id is known. */
  response: (claimId: string) => StoredResponse;
}

/**
 * The claim's single transaction: document + its chunks, claim, first timeline entry, the
 * `claim-review` queue message, the audit event and the idempotency record. All or nothing.
 */
export async function storeClaim(
  pool: pg.Pool,
  input: StoreClaimInput,
): Promise<{ claimId: string; documentId: string }> {
  const { principal, body, report } = input;
  const stored = await withTenant(
    principal.tenantId,
    async (tx) => {
      const documentId = randomUUID();
      const sha256 = body.sha256.toString("hex");
      await tx.query(
        `INSERT INTO documents (id, tenant_id, size_bytes, sha256, page_count, content_type, risky_features)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [documentId, principal.tenantId, body.size, sha256, report.pageCount, input.contentType, report.riskyFeatures],
      );
      let seq = 0;
      for (const chunk of storageChunks(body.bytes, DOCUMENT_CHUNK_BYTES)) {
        await tx.query(`INSERT INTO document_chunks (document_id, seq, tenant_id, data) VALUES ($1, $2, $3, $4)`, [
          documentId,
          seq++,
          principal.tenantId,
          chunk,
        ]);
      }
      input.timing?.lap("chunks");
      const { rows } = await tx.query<{ n: string }>(
        `SELECT nextval(pg_get_serial_sequence('claims', 'number'))::text AS n`,
      );
      const number = rows[0]!.n;
      const claimId = `CLM-${number}`;
      await tx.query(
        `INSERT INTO claims (id, number, tenant_id, veteran_id, document_id, status, updated_at)
       VALUES ($1, $2, $3, $4, $5, 'QUEUED', now())`,
        [claimId, number, principal.tenantId, principal.userId, documentId],
      );
      await tx.query(
        `INSERT INTO claim_events (claim_id, tenant_id, status, note, actor) VALUES ($1, $2, 'QUEUED', $3, $4)`,
        [claimId, principal.tenantId, `Received ${report.pageCount}-page PDF (${body.size} bytes)`, principal.username],
      );
      await tx.query(`INSERT INTO queue_messages (id, tenant_id, queue, payload) VALUES ($1, $2, $3, $4)`, [
        randomUUID(),
        principal.tenantId,
        CLAIM_REVIEW_QUEUE,
        { claimId, documentId, sha256 },
      ]);
      await appendAudit(
        {
          tenantId: principal.tenantId,
          actor: principal.username,
          action: "claim.intake",
          target: claimId,
          outcome: "success",
          traceId: input.meta.traceId,
          ip: input.meta.ip,
          data: {
            documentId,
            sha256,
            sizeBytes: body.size,
            pages: report.pageCount,
            riskyFeatures: report.riskyFeatures,
          },
        },
        tx,
      );
      if (input.idempotency) {
        const { key, lockToken, requestHash } = input.idempotency;
        await completeIdempotent(tx, principal.userId, key, lockToken, requestHash, input.response(claimId));
      }
      input.timing?.lap("rows");
      return { claimId, documentId };
    },
    pool,
  );
  input.timing?.lap("commit");
  // Wake queue consumers after the commit, outside the transaction: a NOTIFY inside it would
  // serialise every intake commit (and its fsync) on PostgreSQL's notify-queue lock. A lost
  // wake-up costs only latency; consumers also poll.
  void pool
    .query(`SELECT pg_notify('hms_queue', $1)`, [
      JSON.stringify({ tenant: principal.tenantId, queue: CLAIM_REVIEW_QUEUE }),
    ])
    .catch((err: unknown) => logger.warn({ err }, "queue wake-up NOTIFY failed"));
  return stored;
}
