import type pg from "pg";
import { z } from "zod";
import { AppError } from "../http/app-error";

/**
 * Reads of the audit trail for the Audit page and its API (`GET /api/v1/audit/events`, `.csv`).
 * They run on the caller's tenant-scoped client (inCallerScope), so row-level security decides
 * which events exist; the functions add only the filters.
 *
 * Filters: `actor`, `action`, `target` match exactly, or by prefix when the value ends with `*`
 * (`registry.*`, `CLM-1*`); `from` ≤ at < `to` (ISO 8601 times; a bare date is midnight UTC);
 * `event` starts the list at that event (the Audit page's "show the broken row"). Newest first,
 * keyset-paginated on (at, id).
 */
const emptyToUndefined = (v: unknown) => (v === "" ? undefined : v);
const text = (max: number) => z.preprocess(emptyToUndefined, z.string().trim().min(1).max(max).optional());
const time = z.preprocess(
  emptyToUndefined,
  z
    .union([z.iso.datetime({ offset: true }), z.iso.date()], { error: "must be an ISO 8601 date or date-time" })
    .transform((s) => new Date(s))
    .optional(),
);

export const auditFilterQuery = z.object({
  /** a global admin's choice of tenant */
  tenant: text(100),
  actor: text(200),
  action: text(200),
  target: text(500),
  from: time,
  to: time,
  event: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^\d{1,18}$/, "must be an event id")
      .optional(),
  ),
});
export type AuditFilters = z.infer<typeof auditFilterQuery>;

export const auditListQuery = auditFilterQuery.extend({
  cursor: z.preprocess(emptyToUndefined, z.string().max(200).optional()),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
export type AuditListQuery = z.infer<typeof auditListQuery>;

export interface AuditEventView {
  id: string;
  at: string;
  tenant: string | null;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  traceId: string | null;
  ip: string | null;
  data: unknown;
  /** position in the tenant's hash chain; null until the sealer has sealed it (about a second) */
  seq: string | null;
}

export interface AuditPage {
  items: AuditEventView[];
  nextCursor: string | null;
}

interface Row {
  id: string;
  at: Date;
  tenant_id: string | null;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  trace_id: string | null;
  ip: string | null;
  data: unknown;
  seq: string | null;
}

function toView(r: Row): AuditEventView {
  return {
    id: r.id,
    at: r.at.toISOString(),
    tenant: r.tenant_id,
    actor: r.actor,
    action: r.action,
    target: r.target,
    outcome: r.outcome,
    traceId: r.trace_id,
    ip: r.ip,
    data: r.data,
    seq: r.seq,
  };
}

interface Cursor {
  at: string;
  id: string;
}
const cursorSchema = z.tuple([z.iso.datetime(), z.string().regex(/^\d{1,18}$/)]);

export function encodeAuditCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.at, c.id])).toString("base64url");
}

function decodeCursor(raw: string): Cursor {
  try {
    const [at, id] = cursorSchema.parse(JSON.parse(Buffer.from(raw, "base64url").toString("utf8")));
    return { at, id };
  } catch {
    throw new AppError("invalid_request", "`cursor` must come from a previous page's nextCursor.");
  }
}

function likePrefix(v: string): string {
  return `${v.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** WHERE clauses and parameters for the filters; `tenant` = the scope's tenant (null = all). */
function filterSql(f: AuditFilters, tenant: string | null, params: unknown[]): string[] {
  const where: string[] = [];
  if (tenant !== null) where.push(`e.tenant_id = $${params.push(tenant)}`);
  for (const [col, v] of [
    ["actor", f.actor],
    ["action", f.action],
    ["target", f.target],
  ] as const) {
    if (v === undefined) continue;
    if (v.endsWith("*")) {
      if (v.length > 1) where.push(`e.${col} LIKE $${params.push(likePrefix(v))}`);
    } else where.push(`e.${col} = $${params.push(v)}`);
  }
  if (f.from) where.push(`e.at >= $${params.push(f.from)}`);
  if (f.to) where.push(`e.at < $${params.push(f.to)}`);
  if (f.event) {
    where.push(`(e.at, e.id) <= (SELECT x.at, x.id FROM audit_events x WHERE x.id = $${params.push(f.event)})`);
  }
  return where;
}

async function page(
  c: Pick<pg.ClientBase, "query">,
  f: AuditFilters,
  tenant: string | null,
  cursor: Cursor | null,
  limit: number,
): Promise<AuditPage> {
  const params: unknown[] = [];
  const where = filterSql(f, tenant, params);
  if (cursor)
    where.push(`(e.at, e.id) < ($${params.push(cursor.at)}::timestamptz, $${params.push(cursor.id)}::bigint)`);
  const { rows } = await c.query<Row>(
    `SELECT e.id, e.at, e.tenant_id, e.actor, e.action, e.target, e.outcome, e.trace_id, e.ip, e.data, s.seq
       FROM audit_events e LEFT JOIN audit_seals s ON s.event_id = e.id
      ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY e.at DESC, e.id DESC
      LIMIT ${limit + 1}`,
    params,
  );
  const items = rows.slice(0, limit).map(toView);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeAuditCursor({ at: last.at, id: last.id }) : null };
}

/** One page of events, newest first. A missing `event` answers 404 (it may be another tenant's). */
export async function listAuditEvents(
  c: Pick<pg.ClientBase, "query">,
  q: AuditListQuery,
  tenant: string | null,
): Promise<AuditPage> {
  if (q.event) {
    const { rows } = await c.query(`SELECT 1 FROM audit_events WHERE id = $1`, [q.event]);
    if (rows.length === 0) throw new AppError("not_found", "No such audit event.");
  }
  return page(c, q, tenant, q.cursor ? decodeCursor(q.cursor) : null, q.limit);
}

// ---------------------------------------------------------------------------------------------
// CSV export

export const CSV_COLUMNS = [
  "id",
  "at",
  "tenant",
  "actor",
  "action",
  "target",
  "outcome",
  "trace_id",
  "ip",
  "seq",
  "data",
];

/**
 * One CSV cell (RFC 4180: quoted when it holds a quote, comma, CR or LF; quotes doubled). A text
 * that a spreadsheet would run as a formula (starting with = + - @, or a tab or CR) gets a
 * leading `'` first (OWASP CSV injection).
 */
export function csvCell(v: string | null | undefined): string {
  if (v === null || v === undefined) return "";
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvLine(cells: (string | null | undefined)[]): string {
  return `${cells.map(csvCell).join(",")}\r\n`;
}

function csvRow(e: AuditEventView): string {
  return csvLine([
    e.id,
    e.at,
    e.tenant,
    e.actor,
    e.action,
    e.target,
    e.outcome,
    e.traceId,
    e.ip,
    e.seq,
    e.data === null || e.data === undefined ? null : JSON.stringify(e.data),
  ]);
}

export const CSV_PAGE = 2_000;

/**
 * The export as a stream, read a page at a time as the client takes it (each page its own short
 * transaction through `scoped`, so a slow download holds no transaction open).
 */
export function auditCsvStream(
  f: AuditFilters,
  scoped: <T>(fn: (c: pg.PoolClient, tenant: string | null) => Promise<T>) => Promise<T>,
): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let cursor: Cursor | null = null;
  let started = false;
  let done = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started) {
        started = true;
        controller.enqueue(enc.encode(csvLine(CSV_COLUMNS)));
        return;
      }
      if (done) {
        controller.close();
        return;
      }
      const p = await scoped((c, tenant) => page(c, f, tenant, cursor, CSV_PAGE));
      if (p.items.length > 0) controller.enqueue(enc.encode(p.items.map(csvRow).join("")));
      const last = p.items.at(-1);
      if (!p.nextCursor || !last) done = true;
      else cursor = { at: last.at, id: last.id };
    },
  });
}
