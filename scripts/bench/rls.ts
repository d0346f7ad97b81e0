/**
 * Row-level security overhead (issue 5): the claim-list query and the intake transaction, each
 * run (a) as the system runs them now — the app role inside withTenant(), one transaction with
 * app.tenant_id set, every row checked by the forced policy — and (b) as before issue 5 — the
 * same statements with their explicit tenant filters on a connection that bypasses RLS (the
 * cluster superuser), list queries without a transaction. Same database, same data, same
 * concurrency; the rounds alternate so drift on a shared host hits both. Reported as ratios.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type pg from "pg";
import { startEphemeralDatabase } from "../../lib/db/ephemeral";
import { createPool } from "../../lib/db/pool";
import { withTenant } from "../../lib/db/tenant-scope";
import { percentile } from "./system";

const TENANT = "agency-a";
const CONCURRENCY = 8;
const ROUND_MS = 5_000;
const ROUNDS = 2;
const CLAIMS = 20_000;

export interface RlsRow {
  workload: string;
  scoped: { opsPerSec: number; p50Ms: number; p95Ms: number };
  bypass: { opsPerSec: number; p50Ms: number; p95Ms: number };
  throughputRatio: number;
  p50Ratio: number;
}

type Op = (c: pg.PoolClient | pg.Pool) => Promise<unknown>;

const LIST_SQL = `SELECT c.id, c.number, c.status, c.tenant_id, c.created_at, c.updated_at, d.size_bytes, d.sha256, d.page_count
  FROM claims c JOIN documents d ON d.id = c.document_id
 WHERE c.tenant_id = $1 AND c.veteran_id = $2::uuid
 ORDER BY c.number DESC LIMIT 21`;

async function seed(sys: pg.Pool): Promise<string[]> {
  await sys.query(`INSERT INTO tenants (id, name) VALUES ($1, 'Agency A'), ('agency-b', 'Agency B')`, [TENANT]);
  const vets: string[] = [];
  for (let i = 0; i < 50; i++) {
    const { rows } = await sys.query<{ id: string }>(
      `INSERT INTO users (id, username, password_hash, role, tenant_id)
       VALUES (gen_random_uuid(), $1, 'x', 'veteran', $2) RETURNING id`,
      [`vet-${i}`, i % 5 === 4 ? "agency-b" : TENANT],
    );
    vets.push(rows[0]!.id);
  }
  // CLAIMS claims over both tenants, each with its document.
  await sys.query(
    `WITH d AS (
       INSERT INTO documents (id, tenant_id, size_bytes, sha256, page_count, content_type, risky_features)
       SELECT gen_random_uuid(), CASE WHEN g % 5 = 4 THEN 'agency-b' ELSE $1 END, 1000, md5(g::text), 1, 'application/pdf', '{}'
         FROM generate_series(1, $2::int) g RETURNING id, tenant_id)
     INSERT INTO claims (id, number, tenant_id, veteran_id, document_id, status)
     SELECT 'CLM-' || n, n, d.tenant_id, ($3::uuid[])[1 + (n % 50)], d.id, 'QUEUED'
       FROM (SELECT d.*, nextval(pg_get_serial_sequence('claims', 'number')) AS n FROM d) d`,
    [TENANT, CLAIMS, vets],
  );
  await sys.query(`ANALYZE`);
  return vets.filter((_, i) => i % 5 !== 4);
}

/** The statements intake's transaction runs (lib/intake/store-claim.ts), with a 64 KiB document. */
function intakeStatements(vets: string[]): Op {
  const chunk = randomBytes(64 * 1024);
  return async (c) => {
    const documentId = randomUUID();
    const vet = vets[Math.floor(Math.random() * vets.length)]!;
    await c.query(
      `INSERT INTO documents (id, tenant_id, size_bytes, sha256, page_count, content_type, risky_features)
       VALUES ($1, $2, $3, $4, 1, 'application/pdf', '{}')`,
      [documentId, TENANT, chunk.length, randomBytes(32).toString("hex")],
    );
    await c.query(`INSERT INTO document_chunks (document_id, seq, tenant_id, data) VALUES ($1, 0, $2, $3)`, [
      documentId,
      TENANT,
      chunk,
    ]);
    const n = (await c.query<{ n: string }>(`SELECT nextval(pg_get_serial_sequence('claims', 'number'))::text AS n`))
      .rows[0]!.n;
    await c.query(
      `INSERT INTO claims (id, number, tenant_id, veteran_id, document_id, status, updated_at)
       VALUES ($1, $2, $3, $4, $5, 'QUEUED', now())`,
      [`CLM-${n}`, n, TENANT, vet, documentId],
    );
    await c.query(
      `INSERT INTO claim_events (claim_id, tenant_id, status, note, actor) VALUES ($1, $2, 'QUEUED', 'bench', 'bench')`,
      [`CLM-${n}`, TENANT],
    );
    await c.query(`INSERT INTO queue_messages (id, tenant_id, queue, payload) VALUES ($1, $2, 'claim-review', $3)`, [
      randomUUID(),
      TENANT,
      { claimId: `CLM-${n}` },
    ]);
    await c.query(
      `INSERT INTO audit_events (tenant_id, actor, action, target, outcome) VALUES ($1, 'bench', 'claim.intake', $2, 'success')`,
      [TENANT, `CLM-${n}`],
    );
  };
}

async function drive(run: () => Promise<void>, ms: number): Promise<{ ops: number; latencies: number[] }> {
  const latencies: number[] = [];
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await run();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { ops: latencies.length, latencies };
}

function summary(samples: { ops: number; latencies: number[] }[], ms: number) {
  const all = samples.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const ops = samples.reduce((n, s) => n + s.ops, 0);
  return { opsPerSec: ops / ((ms * samples.length) / 1000), p50Ms: percentile(all, 50), p95Ms: percentile(all, 95) };
}

async function compare(workload: string, scoped: () => Promise<void>, bypass: () => Promise<void>): Promise<RlsRow> {
  await drive(scoped, 1_000); // warm both paths (plans, connections)
  await drive(bypass, 1_000);
  const a: { ops: number; latencies: number[] }[] = [];
  const b: { ops: number; latencies: number[] }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    a.push(await drive(scoped, ROUND_MS));
    b.push(await drive(bypass, ROUND_MS));
  }
  const s = summary(a, ROUND_MS);
  const x = summary(b, ROUND_MS);
  return { workload, scoped: s, bypass: x, throughputRatio: s.opsPerSec / x.opsPerSec, p50Ratio: s.p50Ms / x.p50Ms };
}

export async function benchRls(): Promise<RlsRow[]> {
  const db = await startEphemeralDatabase();
  const app = createPool(db.appUrl, CONCURRENCY);
  const sys = createPool(db.appUrl, 2, { allTenants: true });
  const superuser = createPool(
    db.superuserUrl.replace(/\/postgres$/, `/${new URL(db.appUrl).pathname.slice(1)}`),
    CONCURRENCY,
  );
  try {
    const vets = await seed(sys);
    const pick = () => vets[Math.floor(Math.random() * vets.length)]!;
    const rows: RlsRow[] = [];
    rows.push(
      await compare(
        "claim list (one page of a veteran's claims)",
        async () => {
          await withTenant(TENANT, (c) => c.query(LIST_SQL, [TENANT, pick()]), app);
        },
        async () => {
          await superuser.query(LIST_SQL, [TENANT, pick()]);
        },
      ),
    );
    const intake = intakeStatements(vets);
    rows.push(
      await compare(
        "intake transaction (document, chunk, claim, event, queue message, audit)",
        async () => {
          await withTenant(TENANT, (c) => intake(c), app);
        },
        async () => {
          const c = await superuser.connect();
          try {
            await c.query("BEGIN");
            await intake(c);
            await c.query("COMMIT");
          } finally {
            c.release();
          }
        },
      ),
    );
    return rows;
  } finally {
    await Promise.all([app.end(), sys.end(), superuser.end()]);
    await db.stop();
  }
}

export function formatRls(rows: RlsRow[]): string {
  const f = (n: number) => n.toFixed(n >= 100 ? 0 : 2);
  return [
    `${CONCURRENCY} concurrent clients, ${ROUNDS} alternating rounds of ${ROUND_MS / 1000} s per path.`,
    "",
    "| workload | with RLS (withTenant) ops/s | p50 ms | p95 ms | bypassing RLS ops/s | p50 ms | p95 ms | throughput ratio | p50 ratio |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.workload} | ${f(r.scoped.opsPerSec)} | ${f(r.scoped.p50Ms)} | ${f(r.scoped.p95Ms)} | ${f(r.bypass.opsPerSec)} | ${f(r.bypass.p50Ms)} | ${f(r.bypass.p95Ms)} | ${r.throughputRatio.toFixed(2)} | ${r.p50Ratio.toFixed(2)} |`,
    ),
  ].join("\n");
}
