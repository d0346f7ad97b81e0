/**
 * Queue benchmark (issue 5): HMS-SVC queues over HTTP with a service token, against a fresh
 * embedded PostgreSQL.
 *
 * 1. **throughput**, per load shape (HMS_BENCH_QUEUE_SHAPES, default a modest fleet 16 × 4 × 25 and
 *    a busy one 64 × 8 × 50): P producers each send one message at a time (`POST …/messages`),
 *    C consumers each lease a batch (`POST …/lease`, max M, waitSeconds 1) and ack every message
 *    (`POST …/messages/<id>/ack`, the batch's acks in parallel). 2 s warm-up, then messages sent /
 *    acked per second over the measured window, with the CPU of the server process(es), PostgreSQL
 *    and the load generator; the goal is ≥ 1,000 acked messages/s on 2 cores.
 * 2. **pickup latency**: one consumer long-polls (`waitSeconds` 20, max 1) while one producer
 *    sends one message at a time, each after the consumer is waiting again; latency = from just
 *    before the send request to the lease answer (one clock: both run in one client process).
 *    Measured with producer and consumer on the same server process, and — with two server
 *    processes — on different ones (the wake-up then travels through PostgreSQL's NOTIFY).
 *
 * Targets (HMS_BENCH_QUEUE_TARGETS, default "lean,web"):
 * - `lean`: the queue data plane (`lib/queue/queue-http.ts`) on a bare node:http server in a
 *   process of its own (`node --import tsx scripts/bench/queue.ts --serve-queues <port>`);
 * - `web`: the real system as `npm start` wires it (startBenchSystem; it builds the app when the
 *   build is stale): two data-plane processes (`scripts/gateway-server.ts`, which answer the
 *   service-token queue calls themselves) in front of the web process; the server CPU is the
 *   data planes'.
 * The clients run in a child process of their own (`--clients <spec>`), over keep-alive node:http.
 */
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { issueServiceToken } from "../../lib/auth/service-token-admin";
import { createPool } from "../../lib/db/pool";
import { startEphemeralDatabase, type EphemeralDb } from "../../lib/db/ephemeral";
import { freePort } from "../../lib/db/free-port";
import { seedDemo } from "../../lib/db/seed-demo";
import { machineTicks, procTicks, quietMachine, treeTicks } from "./proc-stats";
import { percentile, startBenchSystem } from "./system";

const TENANT = "agency-a";
const WARMUP_S = 2;
const MEASURE_S = Number(process.env.HMS_BENCH_QUEUE_SECONDS ?? 10);
const LATENCY_SAMPLES = Number(process.env.HMS_BENCH_QUEUE_LATENCY_SAMPLES ?? 200);
/**
 * Load shapes, `<producers>x<consumers>x<lease max>` (HMS_BENCH_QUEUE_SHAPES, comma-separated):
 * a modest fleet and a busy one. Producers send one message per request, sequentially; the
 * system groups concurrent sends and acks into shared statements, so more concurrency costs less
 * per message.
 */
interface Shape {
  producers: number;
  consumers: number;
  leaseMax: number;
}
const SHAPES: Shape[] = (process.env.HMS_BENCH_QUEUE_SHAPES ?? "16x4x25,64x8x50").split(",").map((s) => {
  const [producers, consumers, leaseMax] = s.split("x").map(Number);
  if (!producers || !consumers || !leaseMax) throw new Error(`bad HMS_BENCH_QUEUE_SHAPES entry "${s}"`);
  return { producers, consumers, leaseMax };
});

// --- client process ---------------------------------------------------------------------------------

interface ThroughputSpec {
  kind: "throughput";
  url: string;
  token: string;
  queue: string;
  producers: number;
  consumers: number;
  leaseMax: number;
  warmupSeconds: number;
  seconds: number;
}
interface LatencySpec {
  kind: "latency";
  /** where the producer sends */
  sendUrl: string;
  /** where the consumer long-polls */
  leaseUrl: string;
  token: string;
  queue: string;
  samples: number;
}
type ClientSpec = ThroughputSpec | LatencySpec;

export interface ThroughputResult {
  seconds: number;
  sentPerSec: number;
  ackedPerSec: number;
  leaseCalls: number;
  meanBatch: number;
  errors: number;
  sendP50ms: number;
  sendP99ms: number;
  ackP50ms: number;
  ackP99ms: number;
  /** CPU the client process used over the whole run (warm-up included), ms */
  clientCpuMs: number;
}
export interface LatencyResult {
  samples: number;
  p50ms: number;
  p95ms: number;
  p99ms: number;
  maxMs: number;
  errors: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function post(url: string, token: string, body: unknown): Promise<{ status: number; text: string }> {
  const data = body === undefined ? "" : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(data),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

async function runThroughput(s: ThroughputSpec): Promise<ThroughputResult> {
  const base = `${s.url}/api/v1/queues/${s.queue}`;
  let measuring = false;
  let stop = false;
  let sent = 0;
  let acked = 0;
  let leaseCalls = 0;
  let leased = 0;
  let errors = 0;
  const sendMs: number[] = [];
  const ackMs: number[] = [];
  const producers = Array.from({ length: s.producers }, async (_, p) => {
    let i = 0;
    while (!stop) {
      const t0 = performance.now();
      try {
        const r = await post(`${base}/messages`, s.token, { payload: { p, i: i++, at: Date.now() } });
        if (r.status !== 201) throw new Error(`send ${r.status} ${r.text}`);
        if (measuring) {
          sent++;
          sendMs.push(performance.now() - t0);
        }
      } catch (err) {
        errors++;
        if (errors < 5) console.error(String(err));
      }
    }
  });
  const consumers = Array.from({ length: s.consumers }, async () => {
    while (!stop) {
      try {
        const r = await post(`${base}/lease`, s.token, { max: s.leaseMax, waitSeconds: 1 });
        if (r.status !== 200) throw new Error(`lease ${r.status} ${r.text}`);
        const { messages } = JSON.parse(r.text) as { messages: { id: string }[] };
        if (measuring) {
          leaseCalls++;
          leased += messages.length;
        }
        await Promise.all(
          messages.map(async (m) => {
            const t0 = performance.now();
            const a = await post(`${base}/messages/${m.id}/ack`, s.token, undefined);
            if (a.status !== 204) throw new Error(`ack ${a.status} ${a.text}`);
            if (measuring) {
              acked++;
              ackMs.push(performance.now() - t0);
            }
          }),
        );
      } catch (err) {
        errors++;
        if (errors < 5) console.error(String(err));
      }
    }
  });
  await new Promise((r) => setTimeout(r, s.warmupSeconds * 1000));
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, s.seconds * 1000));
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all([...producers, ...consumers]);
  sendMs.sort((a, b) => a - b);
  ackMs.sort((a, b) => a - b);
  return {
    seconds,
    sentPerSec: sent / seconds,
    ackedPerSec: acked / seconds,
    leaseCalls,
    meanBatch: leaseCalls ? leased / leaseCalls : 0,
    errors,
    sendP50ms: percentile(sendMs, 50),
    sendP99ms: percentile(sendMs, 99),
    ackP50ms: percentile(ackMs, 50),
    ackP99ms: percentile(ackMs, 99),
    clientCpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
  };
}

async function runLatency(s: LatencySpec): Promise<LatencyResult> {
  const sendBase = `${s.sendUrl}/api/v1/queues/${s.queue}`;
  const leaseBase = `${s.leaseUrl}/api/v1/queues/${s.queue}`;
  const latencies: number[] = [];
  let errors = 0;
  for (let i = 0; i < s.samples + 10; i++) {
    const polling = post(`${leaseBase}/lease`, s.token, { max: 1, waitSeconds: 20 }).then((r) => ({
      r,
      at: performance.now(),
    }));
    // Let the lease reach the server and start waiting (it finds nothing, then waits).
    await new Promise((r) => setTimeout(r, 30));
    const sentAt = performance.now();
    const sent = await post(`${sendBase}/messages`, s.token, { payload: { i } });
    if (sent.status !== 201) errors++;
    const { r, at } = await polling;
    const { messages } = JSON.parse(r.text) as { messages: { id: string }[] };
    if (r.status !== 200 || messages.length !== 1) {
      errors++;
      continue;
    }
    if (i >= 10) latencies.push(at - sentAt); // the first ten warm up
    await post(`${leaseBase}/messages/${messages[0]!.id}/ack`, s.token, undefined);
  }
  latencies.sort((a, b) => a - b);
  return {
    samples: latencies.length,
    p50ms: percentile(latencies, 50),
    p95ms: percentile(latencies, 95),
    p99ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? NaN,
    errors,
  };
}

async function runClients<T>(spec: ClientSpec): Promise<T> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), "--clients", JSON.stringify(spec)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let last = "";
  createInterface({ input: child.stdout! }).on("line", (l) => (last = l));
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  if (code !== 0) throw new Error(`bench clients exited ${code}`);
  return JSON.parse(last) as T;
}

// --- servers ----------------------------------------------------------------------------------------

/** The queue calls alone: what scripts/gateway-server.ts serves, without the gateway or a pass-through. */
async function serveQueuesAlone(port: number): Promise<void> {
  (process.env as Record<string, string>).NODE_ENV = "production";
  const { handleQueueRequest } = await import("../../lib/queue/queue-http");
  const server = http.createServer((req, res) => {
    void handleQueueRequest(req, res).then((handled) => {
      if (!handled) {
        res.writeHead(404);
        res.end();
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.listen(port, "127.0.0.1", () => console.log(`listening ${port}`));
  process.on("SIGTERM", () => {
    if (process.env.HMS_BENCH_QUEUE_STATS) {
      const g = globalThis as unknown as Record<string, Map<string, { stats: object }> | { stats: object } | undefined>;
      const of = (k: string) =>
        [...((g[k] as Map<string, { stats: object }> | undefined)?.values() ?? [])].map((b) => b.stats);
      console.error(
        JSON.stringify({
          sends: of("hmsQueueSendBatchers"),
          acks: of("hmsQueueAckBatchers"),
          wakeups: (g.hmsQueueWakeups as { stats: object } | undefined)?.stats,
        }),
      );
    }
    process.exit(0);
  });
}

interface Target {
  name: string;
  urls: string[];
  pids: number[];
  stop(): Promise<void>;
}

async function startLean(db: EphemeralDb, replicas: number): Promise<Target> {
  const children: ChildProcess[] = [];
  const urls: string[] = [];
  for (let n = 0; n < replicas; n++) {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        // e.g. HMS_BENCH_QUEUE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server
        ...(process.env.HMS_BENCH_QUEUE_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
        "--import",
        "tsx",
        fileURLToPath(import.meta.url),
        "--serve-queues",
        String(port),
      ],
      {
        env: {
          ...process.env,
          DATABASE_URL: db.appUrl,
          NEXTAUTH_SECRET: "bench-secret-bench-secret-bench-secret",
          HMS_DB_POOL_SIZE: "20",
          HMS_LOG_LEVEL: "silent",
        },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`queue server exited ${code}`)));
      createInterface({ input: child.stdout! }).on("line", (l) => l.startsWith("listening") && resolve());
    });
    urls.push(`http://127.0.0.1:${port}`);
  }
  return {
    name: "lean data plane (node:http, no Next.js)",
    urls,
    pids: children.map((c) => c.pid!),
    stop: async () => {
      await Promise.all(
        children.map(async (c) => {
          const exited = new Promise((r) => c.once("exit", r));
          c.kill("SIGTERM");
          await exited;
        }),
      );
    },
  };
}

async function issueBenchToken(appUrl: string): Promise<string> {
  const p = createPool(appUrl, 2, { allTenants: true });
  try {
    await p.query(
      `INSERT INTO services (id, tenant_id, name) VALUES (gen_random_uuid(), $1, 'bench-consumer')
                   ON CONFLICT DO NOTHING`,
      [TENANT],
    );
    const c = await p.connect();
    try {
      await c.query("BEGIN");
      const t = await issueServiceToken(c, {
        tenantId: TENANT,
        serviceName: "bench-consumer",
        queues: [],
        createdBy: "bench",
      });
      await c.query("COMMIT");
      return t.token;
    } finally {
      c.release();
    }
  } finally {
    await p.end();
  }
}

// --- the benchmark ----------------------------------------------------------------------------------

export interface ThroughputRow extends ThroughputResult {
  shape: Shape;
  /** the (first) server process, % of one core */
  serverCpuPct: number;
  machineBusyPct: number;
  /** CPU that processes outside the benchmark took meanwhile, % of one core */
  otherCpuPct: number;
  /** % of one core over the run: server process(es), the load generator, PostgreSQL (the rest of the tree) */
  split: { web: number; clients: number; postgres: number };
}

export interface QueueRow {
  target: string;
  throughput: ThroughputRow[];
  latencySameProcess: LatencyResult;
  latencyCrossProcess: LatencyResult | null;
  seconds: number;
}

async function throughputRow(t: Target, token: string, queue: string, shape: Shape): Promise<ThroughputRow> {
  const spec: ThroughputSpec = {
    kind: "throughput",
    url: t.urls[0]!,
    token,
    queue,
    ...shape,
    warmupSeconds: WARMUP_S,
    seconds: MEASURE_S,
  };
  await quietMachine();
  const serverTicks = async () => (await Promise.all(t.pids.map(procTicks))).reduce((a, b) => a + b, 0);
  const s0 = await serverTicks();
  const c0 = await procTicks(t.pids[0]!);
  const m0 = await machineTicks();
  const o0 = await treeTicks(process.pid);
  const w0 = performance.now();
  const throughput = await runClients<ThroughputResult>(spec);
  const wall = (performance.now() - w0) / 1000;
  const c1 = await procTicks(t.pids[0]!);
  const s1 = await serverTicks();
  const m1 = await machineTicks();
  const o1 = await treeTicks(process.pid);
  const clients = (throughput.clientCpuMs / 1000 / wall) * 100;
  console.error(
    `[bench] queue ${t.name} ${shape.producers}x${shape.consumers}x${shape.leaseMax}: ${throughput.ackedPerSec.toFixed(0)} acked msg/s, ${throughput.sentPerSec.toFixed(0)} sent/s`,
  );
  return {
    ...throughput,
    shape,
    serverCpuPct: ((c1 - c0) / 100 / wall) * 100,
    machineBusyPct: ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100,
    otherCpuPct: Math.max(0, ((m1.busy - m0.busy - (o1 - o0)) / 100 / wall) * 100),
    split: {
      web: ((s1 - s0) / 100 / wall) * 100,
      clients,
      postgres: ((o1 - o0 - (s1 - s0)) / 100 / wall) * 100 - clients,
    },
  };
}

async function benchTarget(t: Target, token: string, tag: string): Promise<QueueRow> {
  const queue = `bench-${tag}`;
  const throughput: ThroughputRow[] = [];
  for (const [n, shape] of SHAPES.entries()) throughput.push(await throughputRow(t, token, `${queue}-${n}`, shape));
  await quietMachine();
  const latencySameProcess = await runClients<LatencyResult>({
    kind: "latency",
    sendUrl: t.urls[0]!,
    leaseUrl: t.urls[0]!,
    token,
    queue: `${queue}-lat`,
    samples: LATENCY_SAMPLES,
  });
  console.error(`[bench] queue ${t.name}: pickup p50 ${latencySameProcess.p50ms.toFixed(1)} ms (same process)`);
  const latencyCrossProcess =
    t.urls.length > 1
      ? await runClients<LatencyResult>({
          kind: "latency",
          sendUrl: t.urls[1]!,
          leaseUrl: t.urls[0]!,
          token,
          queue: `${queue}-lat2`,
          samples: LATENCY_SAMPLES,
        })
      : null;
  if (latencyCrossProcess) {
    console.error(`[bench] queue ${t.name}: pickup p50 ${latencyCrossProcess.p50ms.toFixed(1)} ms (via NOTIFY)`);
  }
  return { target: t.name, throughput, latencySameProcess, latencyCrossProcess, seconds: MEASURE_S };
}

export async function benchQueue(): Promise<QueueRow[]> {
  const targets = (process.env.HMS_BENCH_QUEUE_TARGETS ?? "lean,web").split(",").map((s) => s.trim());
  const rows: QueueRow[] = [];
  if (targets.includes("lean")) {
    const db = await startEphemeralDatabase();
    try {
      const seed = new pg.Pool({ connectionString: db.appUrl, max: 2, options: "-c app.tenant_id=*" });
      await seedDemo(seed, "demo-pass");
      await seed.end();
      const token = await issueBenchToken(db.appUrl);
      const lean = await startLean(db, 2);
      try {
        rows.push(await benchTarget(lean, token, "lean"));
      } finally {
        await lean.stop();
      }
    } finally {
      await db.stop();
    }
  }
  if (targets.includes("web")) {
    const sys = await startBenchSystem({}, { replicas: 2 });
    try {
      const token = await issueBenchToken(sys.db.appUrl);
      rows.push(
        await benchTarget(
          {
            name: "data plane (scripts/gateway-server.ts, as npm start runs it)",
            urls: sys.replicas.map((r) => r.baseUrl),
            pids: sys.replicas.map((r) => r.pid),
            stop: async () => {},
          },
          token,
          "web",
        ),
      );
    } finally {
      await sys.stop();
    }
  }
  return rows;
}

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "–");
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–");
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");

export function formatQueue(rows: QueueRow[]): string {
  const lines = [
    `Throughput: P producers (each sends one message per request, sequentially), C consumers (each leases up to M with \`waitSeconds\` 1, then acks every message, in parallel); ${rows[0]?.seconds ?? MEASURE_S} s measured after ${WARMUP_S} s warm-up; all over HTTP with one service token, the load generator on the same machine. Goal: ≥ 1,000 acked messages/s on 2 cores.`,
    "",
    "| target | P × C × M | acked msg/s | sent msg/s | mean lease batch | send p50 / p99 ms | ack p50 / p99 ms | CPU: server / PostgreSQL / load generator | server + DB CPU per msg | machine busy | other processes | errors |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.flatMap((r) =>
      r.throughput.map(
        (t) =>
          `| ${r.target} | ${t.shape.producers} × ${t.shape.consumers} × ${t.shape.leaseMax} | **${f0(t.ackedPerSec)}** | ${f0(t.sentPerSec)} | ${f1(t.meanBatch)} | ${f1(t.sendP50ms)} / ${f1(t.sendP99ms)} | ${f1(t.ackP50ms)} / ${f1(t.ackP99ms)} | ${f0(t.split.web)} / ${f0(t.split.postgres)} / ${f0(t.split.clients)} % | ${f2(((t.split.web + t.split.postgres) / 100 / t.ackedPerSec) * 1000)} ms | ${f0(t.machineBusyPct)} % | ${f0(t.otherCpuPct)} % | ${t.errors} |`,
      ),
    ),
    "",
    "CPU is % of one core over the run (2 cores = 200 %); “other processes” is what programs outside the benchmark took meanwhile on this shared host.",
    "",
    "Pickup latency: a consumer long-polls (`waitSeconds` 20, max 1); a producer sends one message once it waits; latency = send request start → lease answer. Goal: p50 ≤ 50 ms.",
    "",
    "| target | producer and consumer on | samples | p50 ms | p95 ms | p99 ms | max ms | errors |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.flatMap((r) => [
      `| ${r.target} | the same process | ${r.latencySameProcess.samples} | **${f1(r.latencySameProcess.p50ms)}** | ${f1(r.latencySameProcess.p95ms)} | ${f1(r.latencySameProcess.p99ms)} | ${f1(r.latencySameProcess.maxMs)} | ${r.latencySameProcess.errors} |`,
      ...(r.latencyCrossProcess
        ? [
            `| ${r.target} | two processes (NOTIFY) | ${r.latencyCrossProcess.samples} | **${f1(r.latencyCrossProcess.p50ms)}** | ${f1(r.latencyCrossProcess.p95ms)} | ${f1(r.latencyCrossProcess.p99ms)} | ${f1(r.latencyCrossProcess.maxMs)} | ${r.latencyCrossProcess.errors} |`,
          ]
        : []),
    ]),
  ];
  return lines.join("\n");
}

// --- entry points of the child processes -----------------------------------------------------------

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const mode = process.argv[2];
  if (mode === "--serve-queues") {
    serveQueuesAlone(Number(process.argv[3])).catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
  } else if (mode === "--clients") {
    const spec = JSON.parse(process.argv[3] ?? "{}") as ClientSpec;
    const run = spec.kind === "throughput" ? runThroughput(spec) : runLatency(spec);
    run
      .then((r) => {
        console.log(JSON.stringify(r));
        process.exit(0);
      })
      .catch((err: unknown) => {
        console.error(err);
        process.exit(1);
      });
  } else if (mode === "--run") {
    // Stand-alone: `node --import tsx scripts/bench/queue.ts --run` (the suite is also in npm run bench).
    const rows = await benchQueue();
    console.log(formatQueue(rows));
  }
}
