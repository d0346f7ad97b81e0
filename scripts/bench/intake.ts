/**
 * Intake benchmark (issue 2): 1 MB and 10 MB PDFs at concurrency 1, 4 and 16 through the real
 * system (startBenchSystem: the data plane's public port, whose pass-through hands `POST /claims`
 * to the web process — what a client of `npm start` sees since issue 10; embedded PostgreSQL),
 * next to the ceiling: the same bytes INSERTed as 1 MiB bytea chunks, one transaction per file,
 * straight through `pg` at the same concurrency. Also samples the RSS of both server processes
 * (web + data plane, summed) to report memory growth per concurrent upload.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { makePdf } from "../../lib/documents/test-pdfs";
import { DOCUMENT_CHUNK_BYTES } from "../../lib/intake/store-claim";
import { percentile, rssOf, runConcurrent, startBenchSystem } from "./system";

const MB = 1024 * 1024;
const sizes = (process.env.HMS_BENCH_SIZES_MB ?? "1,10").split(",").map((n) => Number(n) * MB);
const concurrencies = (process.env.HMS_BENCH_CONCURRENCY ?? "1,4,16").split(",").map(Number);
const requestsFor = (size: number, c: number) => (size >= 10 * MB ? Math.max(16, c * 6) : Math.max(40, c * 10));

export interface IntakeRow {
  sizeMB: number;
  concurrency: number;
  requests: number;
  reqPerSec: number;
  mbPerSec: number;
  p50ms: number;
  p95ms: number;
  p99ms: number;
  ceilingMbPerSec: number;
  ratioToCeiling: number;
  memGrowthPerUploadMB: number;
  memGrowthPerUploadXFile: number;
  /** Mean server-side phase durations from the Server-Timing header, ms. */
  phases: Record<string, number>;
}

function addPhases(acc: Map<string, number[]>, header: string | null): void {
  for (const part of (header ?? "").split(",")) {
    const m = /^\s*([\w-]+);dur=([\d.]+)/.exec(part);
    if (m) acc.set(m[1]!, [...(acc.get(m[1]!) ?? []), Number(m[2])]);
  }
}

async function ceiling(url: string, bytes: Uint8Array, concurrency: number, total: number) {
  const pool = new pg.Pool({ connectionString: url, max: concurrency });
  await pool.query(`CREATE TABLE IF NOT EXISTS bench_raw (id uuid, seq int, data bytea, PRIMARY KEY (id, seq))`);
  await pool.query(`ALTER TABLE bench_raw ALTER COLUMN data SET STORAGE EXTERNAL`); // as document_chunks
  const buf = Buffer.from(bytes);
  const r = await runConcurrent(total, concurrency, async () => {
    const c = await pool.connect();
    try {
      const id = randomUUID();
      await c.query("BEGIN");
      for (let off = 0, seq = 0; off < buf.length; off += DOCUMENT_CHUNK_BYTES, seq++) {
        await c.query(`INSERT INTO bench_raw (id, seq, data) VALUES ($1, $2, $3)`, [
          id,
          seq,
          buf.subarray(off, Math.min(off + DOCUMENT_CHUNK_BYTES, buf.length)),
        ]);
      }
      await c.query("COMMIT");
    } finally {
      c.release();
    }
  });
  await pool.query(`TRUNCATE bench_raw`);
  await pool.end();
  return (total * bytes.length) / MB / r.seconds;
}

export async function benchIntake(): Promise<IntakeRow[]> {
  const sys = await startBenchSystem({ HMS_MAX_UPLOAD_BYTES: String(25 * MB) });
  const rows: IntakeRow[] = [];
  try {
    const tokenRes = await fetch(`${sys.baseUrl}/api/v1/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "vet-a", password: "demo-pass" }),
    });
    const { access_token } = (await tokenRes.json()) as { access_token: string };
    for (const size of sizes) {
      const pdf = await makePdf({ targetBytes: size });
      let phaseSamples = new Map<string, number[]>();
      const upload = async () => {
        const r = await fetch(`${sys.baseUrl}/claims`, {
          method: "POST",
          headers: { authorization: `Bearer ${access_token}`, "content-type": "application/pdf" },
          body: pdf as Uint8Array<ArrayBuffer>,
        });
        await r.arrayBuffer();
        if (r.status !== 201) throw new Error(`upload failed: ${r.status}`);
        addPhases(phaseSamples, r.headers.get("server-timing"));
      };
      await runConcurrent(32, 16, upload); // warm-up: JIT, pools, key cache, heap at working size
      for (const c of concurrencies) {
        const total = requestsFor(size, c);
        // Let the heaps settle, then watch the servers' RSS while the batch runs.
        await new Promise((r) => setTimeout(r, 1500));
        const serversRss = async () => (await rssOf(sys.webPid)) + (await rssOf(sys.serverPid));
        const baseline = await serversRss();
        phaseSamples = new Map();
        let peak = baseline;
        const sampler = setInterval(() => {
          void serversRss().then((v) => (peak = Math.max(peak, v)));
        }, 10);
        const r = await runConcurrent(total, c, upload);
        clearInterval(sampler);
        const ceil = await ceiling(sys.db.ownerUrl, pdf, c, total);
        const mbps = (total * pdf.length) / MB / r.seconds;
        const growthPerUpload = (peak - baseline) / c;
        const row: IntakeRow = {
          sizeMB: size / MB,
          concurrency: c,
          requests: total,
          reqPerSec: total / r.seconds,
          mbPerSec: mbps,
          p50ms: percentile(r.latencies, 50),
          p95ms: percentile(r.latencies, 95),
          p99ms: percentile(r.latencies, 99),
          ceilingMbPerSec: ceil,
          ratioToCeiling: mbps / ceil,
          memGrowthPerUploadMB: growthPerUpload / MB,
          memGrowthPerUploadXFile: growthPerUpload / pdf.length,
          phases: Object.fromEntries([...phaseSamples].map(([k, v]) => [k, v.reduce((a, b) => a + b, 0) / v.length])),
        };
        rows.push(row);
        console.error(
          `[bench] intake ${row.sizeMB} MB × c${c}: ${row.mbPerSec.toFixed(1)} MB/s, p95 ${row.p95ms.toFixed(0)} ms`,
        );
      }
    }
  } finally {
    await sys.stop();
  }
  return rows;
}

export function formatIntake(rows: IntakeRow[]): string {
  const head =
    "| file | conc | requests | req/s | MB/s | p50 ms | p95 ms | p99 ms | raw pg INSERT MB/s | ratio to ceiling | RSS growth / upload (web + data plane) | × file size |";
  const sep = "|---|---|---|---|---|---|---|---|---|---|---|---|";
  const lines = rows.map(
    (r) =>
      `| ${r.sizeMB} MB | ${r.concurrency} | ${r.requests} | ${r.reqPerSec.toFixed(1)} | ${r.mbPerSec.toFixed(1)} | ${r.p50ms.toFixed(0)} | ${r.p95ms.toFixed(0)} | ${r.p99ms.toFixed(0)} | ${r.ceilingMbPerSec.toFixed(1)} | ${(r.ratioToCeiling * 100).toFixed(0)}% | ${r.memGrowthPerUploadMB.toFixed(1)} MB | ${r.memGrowthPerUploadXFile.toFixed(2)}× |`,
  );
  const phaseNames = [...new Set(rows.flatMap((r) => Object.keys(r.phases)))];
  const phaseHead = `| file | conc | ${phaseNames.map((n) => `${n} ms`).join(" | ")} | rest of p50 ms |`;
  const phaseSep = `|---|---|${phaseNames.map(() => "---").join("|")}|---|`;
  const phaseLines = rows.map((r) => {
    const sum = phaseNames.reduce((a, n) => a + (r.phases[n] ?? 0), 0);
    return `| ${r.sizeMB} MB | ${r.concurrency} | ${phaseNames.map((n) => (r.phases[n] ?? 0).toFixed(1)).join(" | ")} | ${(r.p50ms - sum).toFixed(1)} |`;
  });
  return [
    head,
    sep,
    ...lines,
    "",
    "Where the time goes (mean server-side phases from `Server-Timing`; the rest is HTTP, auth, routing and queueing):",
    "",
    phaseHead,
    phaseSep,
    ...phaseLines,
  ].join("\n");
}
