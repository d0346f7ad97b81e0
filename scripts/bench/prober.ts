/**
 * Prober benchmark (issue 3): N instances at a 10 s check interval on ONE worker (the same
 * `probeUntilIdle` loop the worker runs every PROBE_TICK_MS), against an upstream in another process.
 * Reports the worker's CPU share, probe-start jitter against each instance's schedule, and
 * whether the worker keeps up — for growing fleets, to find the largest it holds.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import pg from "pg";
import { startEphemeralDatabase } from "../../lib/db/ephemeral";
import { seedDemo } from "../../lib/db/seed-demo";
import { PROBE_TICK_MS, probeUntilIdle } from "../../lib/health/prober";
import { networkPolicyFromEnv } from "../../lib/net/network-policy";
import { percentile } from "./system";

const INTERVAL_S = 10;

export interface ProberRow {
  instances: number;
  seconds: number;
  probes: number;
  expectedProbes: number;
  cpuPercentOfOneCore: number;
  jitterP50Ms: number;
  jitterP99Ms: number;
  jitterMaxMs: number;
  keptUp: boolean;
}

async function startUpstream(): Promise<{ port: number; stop(): void }> {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const s=require("node:http").createServer((q,r)=>{r.writeHead(200,{"content-type":"application/health+json"});r.end('{"status":"pass"}')});s.keepAliveTimeout=1000;s.listen(0,"127.0.0.1",()=>console.log(s.address().port))`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const [line] = (await once(child.stdout!, "data")) as [Buffer];
  return { port: Number(line.toString().trim()), stop: () => child.kill() };
}

async function runFleet(appUrl: string, upstreamPort: number, n: number, seconds: number): Promise<ProberRow> {
  const db = new pg.Pool({ connectionString: appUrl, max: 20, options: "-c app.tenant_id=*" });
  db.on("error", () => {});
  await db.query(`DELETE FROM services WHERE tenant_id = 'agency-a'`);
  const perService = 10;
  // Schedules spread evenly over one interval, as in a fleet that has been running for a while.
  const start = Date.now() + 2_000;
  await db.query(
    `WITH s AS (
       INSERT INTO services (id, tenant_id, name, check_interval_seconds, timeout_ms)
       SELECT gen_random_uuid(), 'agency-a', 'bench-' || g, $2, 2000 FROM generate_series(1, $1::int / $3) g
       RETURNING id, name)
     INSERT INTO instances (id, service_id, tenant_id, url, next_check_at)
     SELECT gen_random_uuid(), s.id, 'agency-a', 'http://127.0.0.1:' || $4 || '/' || s.name || '/' || k,
            to_timestamp($5::double precision / 1000) + make_interval(secs => (random() * $2))
       FROM s, generate_series(1, $3) k`,
    [n, INTERVAL_S, perService, upstreamPort, start],
  );
  const { rows: sched } = await db.query<{ id: string; first: Date }>(
    `SELECT id, next_check_at AS first FROM instances`,
  );
  const firstOf = new Map(sched.map((r) => [r.id, r.first.getTime()]));

  const policy = networkPolicyFromEnv({ HMS_ALLOW_PRIVATE_NETWORKS: "127.0.0.1/32" });
  const ac = new AbortController();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const loop = (async () => {
    while (!ac.signal.aborted) {
      const began = Date.now();
      await probeUntilIdle({ pool: db, workerId: "bench", policy, signal: ac.signal, maxRounds: 1000 });
      await new Promise((r) => setTimeout(r, Math.max(0, PROBE_TICK_MS - (Date.now() - began))));
    }
  })();
  await new Promise((r) => setTimeout(r, 2_000 + seconds * 1_000));
  ac.abort();
  await loop;
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);

  const { rows } = await db.query<{ instance_id: string; at: Date }>(
    `SELECT instance_id, at FROM health_checks WHERE at >= to_timestamp($1::double precision / 1000)`,
    [start],
  );
  const jitters = rows
    .map((r) => {
      const first = firstOf.get(r.instance_id)!;
      const k = Math.max(0, Math.round((r.at.getTime() - first) / (INTERVAL_S * 1000)));
      return r.at.getTime() - (first + k * INTERVAL_S * 1000);
    })
    .sort((a, b) => a - b);
  const overdue = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM instances WHERE next_check_at < now() - interval '2 seconds'`,
  );
  await db.end();
  const p99 = percentile(jitters, 99);
  return {
    instances: n,
    seconds,
    probes: rows.length,
    expectedProbes: Math.round((n * seconds) / INTERVAL_S),
    cpuPercentOfOneCore: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    jitterP50Ms: percentile(jitters, 50),
    jitterP99Ms: p99,
    jitterMaxMs: jitters.at(-1) ?? NaN,
    keptUp: overdue.rows[0]!.n === 0 && p99 <= 1_000,
  };
}

export async function benchProber(fleets = [1_000, 2_000, 3_000, 4_000], seconds = 30): Promise<ProberRow[]> {
  const db = await startEphemeralDatabase();
  const upstream = await startUpstream();
  const rows: ProberRow[] = [];
  try {
    const p = new pg.Pool({ connectionString: db.appUrl, max: 2, options: "-c app.tenant_id=*" });
    await seedDemo(p, "demo-pass");
    await p.end();
    for (const n of fleets) {
      const row = await runFleet(db.appUrl, upstream.port, n, seconds);
      rows.push(row);
      console.error(
        `[bench] prober ${n} instances: cpu ${row.cpuPercentOfOneCore.toFixed(0)}%, jitter p99 ${row.jitterP99Ms.toFixed(0)} ms, kept up: ${row.keptUp}`,
      );
      if (!row.keptUp) break;
    }
  } finally {
    upstream.stop();
    await db.stop();
  }
  return rows;
}

export function formatProber(rows: ProberRow[]): string {
  return [
    "| instances | window s | probes (expected) | worker CPU (% of one core) | start jitter p50 ms | p99 ms | max ms | kept up |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.instances} | ${r.seconds} | ${r.probes} (${r.expectedProbes}) | ${r.cpuPercentOfOneCore.toFixed(0)}% | ${r.jitterP50Ms.toFixed(0)} | ${r.jitterP99Ms.toFixed(0)} | ${r.jitterMaxMs.toFixed(0)} | ${r.keptUp ? "yes" : "no"} |`,
    ),
  ].join("\n");
}
