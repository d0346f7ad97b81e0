import { z } from "zod";
import type { Principal } from "../auth/principal";
import { pool } from "../db/pool";
import { db } from "../db/prisma";
import { AppError } from "../http/app-error";
import { claimScope } from "./claim-access";

export const claimIdSchema = z.string().regex(/^CLM-\d{1,18}$/);

export const listClaimsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .regex(/^\d{1,18}$/, "cursor must come from a previous page's nextCursor")
    .optional(),
});
export type ListClaimsQuery = z.infer<typeof listClaimsQuery>;

const summarySelect = {
  id: true,
  number: true,
  status: true,
  createdAt: true,
  updatedAt: true,
  document: { select: { sizeBytes: true, sha256: true, pageCount: true } },
} as const;

function notFound(): AppError {
  return new AppError("not_found", "No such claim.");
}

export async function listClaims(p: Principal, q: ListClaimsQuery) {
  const scope = claimScope(p);
  if (!scope) return { items: [], nextCursor: null };
  const rows = await db().claim.findMany({
    where: { ...scope, ...(q.cursor ? { number: { lt: BigInt(q.cursor) } } : {}) },
    orderBy: { number: "desc" },
    take: q.limit + 1,
    select: summarySelect,
  });
  const page = rows.slice(0, q.limit);
  return {
    items: page.map((c) => ({
      claim_id: c.id,
      status: c.status,
      createdAt: c.createdAt.toISOString(),
      updatedAt: c.updatedAt.toISOString(),
      document: { sizeBytes: Number(c.document.sizeBytes), sha256: c.document.sha256, pageCount: c.document.pageCount },
    })),
    nextCursor: rows.length > q.limit ? page.at(-1)!.number.toString() : null,
  };
}

/** The scope for one claim id, or "not found" when the id is malformed or the caller sees no claims. */
function scopeFor(p: Principal, id: string) {
  const scope = claimScope(p);
  if (!scope || !claimIdSchema.safeParse(id).success) throw notFound();
  return { id, ...scope };
}

export async function getClaim(p: Principal, id: string) {
  const c = await db().claim.findFirst({
    where: scopeFor(p, id),
    select: {
      ...summarySelect,
      tenantId: true,
      veteran: { select: { username: true } },
      document: { select: { sizeBytes: true, sha256: true, pageCount: true, contentType: true, riskyFeatures: true } },
      events: { orderBy: { id: "asc" }, select: { status: true, at: true, note: true, actor: true } },
    },
  });
  if (!c) throw notFound();
  return {
    claim_id: c.id,
    status: c.status,
    tenant: c.tenantId,
    veteran: c.veteran.username,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    document: {
      sizeBytes: Number(c.document.sizeBytes),
      sha256: c.document.sha256,
      pageCount: c.document.pageCount,
      contentType: c.document.contentType,
      riskyFeatures: c.document.riskyFeatures,
      url: `/api/v1/claims/${c.id}/document`,
    },
    timeline: c.events.map((e) => ({ status: e.status, at: e.at.toISOString(), note: e.note, actor: e.actor })),
  };
}

/**
 * The stored PDF as a stream, one chunk per query, so a download never holds the whole file.
 */
export async function openClaimDocument(p: Principal, id: string) {
  const c = await db().claim.findFirst({
    where: scopeFor(p, id),
    select: { document: { select: { id: true, sizeBytes: true, sha256: true, contentType: true } } },
  });
  if (!c) throw notFound();
  const { id: documentId } = c.document;
  let seq = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { rows } = await pool().query<{ data: Buffer }>(
        `SELECT data FROM document_chunks WHERE document_id = $1 AND seq = $2`,
        [documentId, seq++],
      );
      const row = rows[0];
      if (row) controller.enqueue(new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength));
      else controller.close();
    },
  });
  return {
    claimId: id,
    sizeBytes: Number(c.document.sizeBytes),
    sha256: c.document.sha256,
    contentType: c.document.contentType,
    stream,
  };
}
