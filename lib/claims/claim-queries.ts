import { z } from "zod";
import type { Principal } from "../auth/principal";
import { withTenant } from "../db/tenant-scope";
import { AppError } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";
import { inClaimScope } from "./claim-access";
import { readClaimSnapshot } from "./claim-snapshot";

export const claimIdSchema = z.string().regex(/^CLM-\d{1,18}$/);

export const listClaimsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .regex(/^\d{1,18}$/, "cursor must come from a previous page's nextCursor")
    .optional(),
  /** global admins: one agency (otherwise every agency, audited) */
  tenant: z.string().min(1).max(100).optional(),
});
export type ListClaimsQuery = z.infer<typeof listClaimsQuery>;

function notFound(): AppError {
  return new AppError("not_found", "No such claim.");
}

interface SummaryRow {
  id: string;
  number: string;
  status: string;
  tenant_id: string;
  created_at: Date;
  updated_at: Date;
  size_bytes: string;
  sha256: string;
  page_count: number;
}

const SUMMARY_COLUMNS = `c.id, c.number, c.status, c.tenant_id, c.created_at, c.updated_at,
  d.size_bytes, d.sha256, d.page_count`;

function summary(c: SummaryRow) {
  return {
    claim_id: c.id,
    status: c.status,
    createdAt: c.created_at.toISOString(),
    updatedAt: c.updated_at.toISOString(),
    document: { sizeBytes: Number(c.size_bytes), sha256: c.sha256, pageCount: c.page_count },
  };
}

export async function listClaims(p: Principal, q: ListClaimsQuery, meta: RequestMeta) {
  return inClaimScope(
    p,
    { meta, view: "claims:list", tenantParam: q.tenant, everyAccess: false },
    async (c, f) => {
      const { rows } = await c.query<SummaryRow>(
        `SELECT ${SUMMARY_COLUMNS}
         FROM claims c JOIN documents d ON d.id = c.document_id
        WHERE ${f.sql} AND ($2::bigint IS NULL OR c.number < $2::bigint)
        ORDER BY c.number DESC
        LIMIT $3`,
        [f.value, q.cursor ?? null, q.limit + 1],
      );
      const page = rows.slice(0, q.limit);
      return {
        items: page.map((r) => ({ ...summary(r), ...(p.tenantId === null ? { tenant: r.tenant_id } : {}) })),
        nextCursor: rows.length > q.limit ? page.at(-1)!.number : null,
      };
    },
    () => ({ items: [], nextCursor: null }),
  );
}

export async function getClaim(p: Principal, id: string, meta: RequestMeta) {
  if (!claimIdSchema.safeParse(id).success) throw notFound();
  // The same read as the live timeline's snapshot (lib/claims/claim-snapshot.ts).
  return inClaimScope(
    p,
    { meta, view: `claim:${id}` },
    async (c, f) => (await readClaimSnapshot(c, f, id)) ?? throwNotFound(),
  );
}

function throwNotFound(): never {
  throw notFound();
}

/**
 * The stored PDF as a stream, one chunk per short tenant-scoped transaction, so a download never
 * holds the whole file nor a database connection while the client reads slowly.
 */
export async function openClaimDocument(p: Principal, id: string, meta: RequestMeta) {
  if (!claimIdSchema.safeParse(id).success) throw notFound();
  const doc = await inClaimScope(
    p,
    { meta, view: `claim-document:${id}` },
    async (c, f) => {
      const { rows } = await c.query<{
        document_id: string;
        tenant_id: string;
        size_bytes: string;
        sha256: string;
        content_type: string;
      }>(
        `SELECT d.id AS document_id, d.tenant_id, d.size_bytes, d.sha256, d.content_type
         FROM claims c JOIN documents d ON d.id = c.document_id
        WHERE ${f.sql} AND c.id = $2`,
        [f.value, id],
      );
      return rows[0] ?? null;
    },
    () => null,
  );
  if (!doc) throw notFound();
  let seq = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { rows } = await withTenant(doc.tenant_id, (c) =>
        c.query<{ data: Buffer }>(`SELECT data FROM document_chunks WHERE document_id = $1 AND seq = $2`, [
          doc.document_id,
          seq++,
        ]),
      );
      const row = rows[0];
      if (row) controller.enqueue(new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength));
      else controller.close();
    },
  });
  return { claimId: id, sizeBytes: Number(doc.size_bytes), sha256: doc.sha256, contentType: doc.content_type, stream };
}
