import { randomBytes, randomUUID } from "node:crypto";
import { issueServiceToken } from "../auth/service-token-admin";
import { systemPool } from "../db/pool";
import { withTenant } from "../db/tenant-scope";
import { CLAIM_REVIEW_QUEUE } from "../intake/store-claim";
import type { ClaimStatus } from "./claim-transitions";

/**
 * Tests only: claims written straight into the database the way intake stores them (document,
 * claim, first timeline entry, `claim-review` message), without a PDF upload per claim.
 */
export async function createTestClaim(
  tenantId: string,
  veteranId: string,
  o: { status?: ClaimStatus; updatedMinutesAgo?: number; queueMessage?: boolean } = {},
): Promise<string> {
  const db = systemPool();
  const documentId = randomUUID();
  const sha = randomBytes(32).toString("hex");
  const c = await db.connect();
  try {
    await c.query("BEGIN");
    await c.query(
      `INSERT INTO documents (id, tenant_id, size_bytes, sha256, page_count, content_type, risky_features)
       VALUES ($1, $2, 1234, $3, 1, 'application/pdf', '{}')`,
      [documentId, tenantId, sha],
    );
    const { rows } = await c.query<{ n: string }>(
      `SELECT nextval(pg_get_serial_sequence('claims', 'number'))::text AS n`,
    );
    const claimId = `CLM-${rows[0]!.n}`;
    const at = `now() - make_interval(mins => ${Math.max(0, Math.floor(o.updatedMinutesAgo ?? 0))})`;
    await c.query(
      `INSERT INTO claims (id, number, tenant_id, veteran_id, document_id, status, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, ${at}, ${at})`,
      [claimId, rows[0]!.n, tenantId, veteranId, documentId, o.status ?? "QUEUED"],
    );
    await c.query(
      `INSERT INTO claim_events (claim_id, tenant_id, status, note, actor, at) VALUES ($1, $2, 'QUEUED', 'test claim', 'test', ${at})`,
      [claimId, tenantId],
    );
    if (o.queueMessage ?? true) {
      await c.query(`INSERT INTO queue_messages (id, tenant_id, queue, payload) VALUES ($1, $2, $3, $4)`, [
        randomUUID(),
        tenantId,
        CLAIM_REVIEW_QUEUE,
        { claimId, documentId, sha256: sha },
      ]);
    }
    await c.query("COMMIT");
    return claimId;
  } catch (err) {
    await c.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

/** Registers a service named `name` (no instances) in the tenant; returns its id. */
export async function createTestService(tenantId: string, name = CLAIM_REVIEW_QUEUE): Promise<string> {
  const { rows } = await systemPool().query<{ id: string }>(
    `INSERT INTO services (id, tenant_id, name) VALUES (gen_random_uuid(), $1, $2)
     ON CONFLICT (tenant_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id`,
    [tenantId, name],
  );
  return rows[0]!.id;
}

/** A service token for `serviceName` of the tenant (the service is registered if missing). */
export async function createTestServiceToken(
  tenantId: string,
  serviceName = CLAIM_REVIEW_QUEUE,
  queues: string[] = [CLAIM_REVIEW_QUEUE],
): Promise<string> {
  await createTestService(tenantId, serviceName);
  const issued = await withTenant(tenantId, (c) =>
    issueServiceToken(c, { tenantId, serviceName, queues, createdBy: "test" }),
  );
  return issued.token;
}
