import type { TenantClient } from "../db/tenant-scope";
import type { ClaimFilter } from "./claim-access";
import { claimIdPattern } from "./claim-transitions";

/**
 * What the live timeline (SSE) reads, inside the subscriber's tenant-scoped transaction: the
 * claim as `GET /api/v1/claims/<id>` shows it (plus each timeline entry's id, the stream's event
 * id), and the timeline entries written after a given id.
 */
export interface TimelineEvent {
  id: string;
  status: string;
  at: string;
  note: string | null;
  actor: string;
}

export interface ClaimSnapshot {
  claim_id: string;
  status: string;
  tenant: string;
  veteran: string;
  createdAt: string;
  updatedAt: string;
  document: {
    sizeBytes: number;
    sha256: string;
    pageCount: number;
    contentType: string;
    riskyFeatures: string[];
    url: string;
  };
  timeline: TimelineEvent[];
}

interface SnapshotRow {
  id: string;
  status: string;
  tenant_id: string;
  veteran: string;
  created_at: Date;
  updated_at: Date;
  size_bytes: string;
  sha256: string;
  page_count: number;
  content_type: string;
  risky_features: string[] | null;
}

interface EventRow {
  id: string;
  status: string;
  at: Date;
  note: string | null;
  actor: string;
}

const toEvent = (e: EventRow): TimelineEvent => ({
  id: e.id,
  status: e.status,
  at: e.at.toISOString(),
  note: e.note,
  actor: e.actor,
});

/** The claim with its timeline, or null when the caller's scope cannot see it. */
export async function readClaimSnapshot(
  c: TenantClient,
  filter: ClaimFilter,
  claimId: string,
): Promise<ClaimSnapshot | null> {
  if (!claimIdPattern.test(claimId)) return null;
  const { rows } = await c.query<SnapshotRow>(
    `SELECT c.id, c.status, c.tenant_id, u.username AS veteran, c.created_at, c.updated_at,
            d.size_bytes::text, d.sha256, d.page_count, d.content_type, d.risky_features
       FROM claims c JOIN documents d ON d.id = c.document_id JOIN users u ON u.id = c.veteran_id
      WHERE c.id = $2 AND ${filter.sql}`,
    [filter.value, claimId],
  );
  const row = rows[0];
  if (!row) return null;
  const ev = await c.query<EventRow>(
    `SELECT id, status, at, note, actor FROM claim_events WHERE claim_id = $1 ORDER BY id`,
    [claimId],
  );
  return {
    claim_id: row.id,
    status: row.status,
    tenant: row.tenant_id,
    veteran: row.veteran,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    document: {
      sizeBytes: Number(row.size_bytes),
      sha256: row.sha256,
      pageCount: row.page_count,
      contentType: row.content_type,
      riskyFeatures: row.risky_features ?? [],
      url: `/api/v1/claims/${row.id}/document`,
    },
    timeline: ev.rows.map(toEvent),
  };
}

export interface ClaimChanges {
  status: string;
  updatedAt: string;
  events: TimelineEvent[];
}

/** Timeline entries after `afterId` (null: the claim is not, or no longer, visible). */
export async function readClaimChanges(
  c: TenantClient,
  filter: ClaimFilter,
  claimId: string,
  afterId: string,
): Promise<ClaimChanges | null> {
  const { rows } = await c.query<{ status: string; updated_at: Date }>(
    `SELECT c.status, c.updated_at FROM claims c WHERE c.id = $2 AND ${filter.sql}`,
    [filter.value, claimId],
  );
  const row = rows[0];
  if (!row) return null;
  const ev = await c.query<EventRow>(
    `SELECT id, status, at, note, actor FROM claim_events WHERE claim_id = $1 AND id > $2::bigint ORDER BY id`,
    [claimId, afterId],
  );
  return { status: row.status, updatedAt: row.updated_at.toISOString(), events: ev.rows.map(toEvent) };
}
