/**
 * Gateway benchmark (issues 4 and 10): the system as `npm start` runs it (startBenchSystem: two
 * data-plane processes, `scripts/gateway-server.ts`, in front of one web process), everything side
 * by side in one run against the same upstream process (`upstream-server.ts`, `{"ok":true}`,
 * keep-alive), with every load generator in a process of its own (`load.ts`). Our gateway is called
 * as an operator (`operator-a` / `operator-b`: the default access policy admits operators, admins
 * and service tokens, not veterans), with a JWT, a tenant limit set so high it never refuses,
 * breakers, metrics, traffic roll-ups and the access log written to a file (HMS_LOG_LEVEL=info).
 *
 * 1. closed loop at concurrency 10 and 50: direct to the upstream; `bare-proxy.ts` (a bare
 *    node:http proxy, the practical ceiling in Node); nginx (`nginx-proxy.ts`: one worker,
 *    keep-alive upstream, access log off, and the variant with an access log to a file); our data
 *    plane (`/api/v1/gw/bench/`); at c10 also a trivial Next.js route through the data plane's
 *    pass-through (`/.well-known/jwks.json`). Ratios ours / bare proxy and ours / nginx, and each
 *    proxy's CPU time per request;
 * 2. latency added at a fixed 300 req/s (open loop): direct, bare proxy, nginx, ours; ours − bare;
 * 3. failover: a service with a primary and a secondary instance (two upstream processes), 50 GETs/s
 *    through the gateway, SIGKILL the primary; time to the breaker row turning `open` and to the
 *    first answer from the secondary; failed requests around the kill;
 * 4. noisy neighbour: agency-b at 100 req/s alone (≥ 3 runs, for the figure's own spread), and while
 *    agency-a sends 10× its 50 rps / burst 50 limit;
 * 5. burst fairness: 400 requests at once (400 sockets connected first, then every request) under
 *    1000/1000 (none may be refused) and 50/50 (about 50 admitted), on one data plane and split
 *    over two on one database; then 300 req/s for 10 s (3× a 100/100 limit) split over the two:
 *    admitted vs `burst + rps × seconds`.
 *
 * CPU is sampled from /proc for each process over each measured window, because on 2 cores the
 * load generator, the upstream, the proxy and PostgreSQL all compete; and since this host is
 * shared, each row waits for a quiet machine, records the CPU that processes outside the
 * benchmark took meanwhile, and is run again when that was too much (see `measured`).
 *
 * `--quick` (or HMS_BENCH_QUICK=1): 1 s warm-up, 2 s measured, one try per row, no waiting for a
 * quiet machine, one noisy round — to see the whole suite work end to end in a few minutes. Its
 * figures are not for the record.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { spawn, type ChildProcess } from "node:child_process";
import pg from "pg";
import { startLoad, type LoadRecord, type LoadResult, type LoadSpec } from "./load";
import { ensureNginx, startNginx, type NginxProxy } from "./nginx-proxy";
import { CLK_TCK, machineTicks, procTicks, QUIET_PCT, QUIET_WAIT_MS, quietMachine, treeTicks } from "./proc-stats";
import { startBenchSystem, type BenchReplica, type BenchSystem } from "./system";

interface Settings {
  quick: boolean;
  closedWarmupS: number;
  closedS: number;
  pacedWarmupS: number;
  pacedS: number;
  failoverKillAfterMs: number;
  failoverS: number;
  /** failed requests are counted over this window centred on the kill */
  failoverWindowS: number;
  noisyWarmupS: number;
  noisyS: number;
  noisyAloneRuns: number;
  noisyRounds: number;
  sustainedS: number;
  maxTries: number;
  quietWaitMs: number;
}

const FULL: Settings = {
  quick: false,
  closedWarmupS: 2,
  closedS: 8,
  pacedWarmupS: 2,
  pacedS: 10,
  failoverKillAfterMs: 5_000,
  failoverS: 15,
  failoverWindowS: 10,
  noisyWarmupS: 2,
  noisyS: 10,
  noisyAloneRuns: 3,
  noisyRounds: 3,
  sustainedS: 10,
  maxTries: 3,
  quietWaitMs: QUIET_WAIT_MS,
};

const QUICK: Settings = {
  quick: true,
  closedWarmupS: 1,
  closedS: 2,
  pacedWarmupS: 1,
  pacedS: 2,
  failoverKillAfterMs: 2_000,
  failoverS: 5,
  failoverWindowS: 4,
  noisyWarmupS: 1,
  noisyS: 2,
  noisyAloneRuns: 3, // the alone figure's spread needs three even here
  noisyRounds: 1,
  sustainedS: 2,
  maxTries: 1,
  quietWaitMs: 0,
};

const CONCURRENCIES = [10, 50];
const PACED_RATE = 300;
const FAILOVER_RATE = 50;
const NOISY_B_RATE = 100;
const NOISY_A_LIMIT = { rps: 50, burst: 50 };
/** the noisy tenant sends 10× its limit */
const NOISY_A_RATE = NOISY_A_LIMIT.rps * 10;
const BURST_COUNT = 400;
const BURST_WIDE = { rps: 1000, burst: 1000 };
const BURST_NARROW = { rps: 50, burst: 50 };
const SUSTAINED_LIMIT = { rps: 100, burst: 100 };
/** 3× the sustained limit */
const SUSTAINED_RATE = SUSTAINED_LIMIT.rps * 3;
/** "On but never refuses" for the throughput and latency runs. */
const HIGH_LIMIT = { rps: 100_000, burst: 100_000 };

/** The goals (issue 4's throughput goal, issue 10's others). */
export const GOALS = {
  oursToBareMin: 0.5,
  addedP50MaxMs: 1,
  addedP99MaxMs: 5,
  noisyRatioMax: 1.25,
  burstNarrowAdmitted: [45, 55] as const,
  overAdmissionMaxPct: 5,
  failoverFirstSecondaryMaxMs: 1_000,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// --- CPU sampling (/proc) -------------------------------------------------------------------------

/**
 * A row during which processes outside this benchmark used more than this much CPU (% of one
 * core) is run again, up to `maxTries` times; the least disturbed try is kept.
 */
const OTHER_MAX_PCT = 25;

interface Measured<T> {
  result: T;
  /** CPU used outside this benchmark during the row, % of one core */
  otherCpuPct: number;
  tries: number;
}

/**
 * Runs one row on a machine as quiet as it gets: waits for quiet, runs, measures the CPU that
 * processes outside this benchmark took meanwhile, and runs the row again (up to `maxTries`) when
 * that was more than OTHER_MAX_PCT. `before` resets state a try depends on.
 */
async function measured<T>(
  s: Settings,
  label: string,
  run: () => Promise<T>,
  before?: () => Promise<void>,
  maxTries = s.maxTries,
): Promise<Measured<T>> {
  let best: Measured<T> | null = null;
  for (let tries = 1; tries <= maxTries; tries++) {
    if (s.quietWaitMs > 0) await quietMachine(s.quietWaitMs);
    await before?.();
    const m0 = await machineTicks();
    const o0 = await treeTicks(process.pid);
    const t0 = performance.now();
    const result = await run();
    const seconds = (performance.now() - t0) / 1000;
    const m1 = await machineTicks();
    const o1 = await treeTicks(process.pid);
    const otherCpuPct = Math.max(0, ((m1.busy - m0.busy - (o1 - o0)) / CLK_TCK / seconds) * 100);
    if (!best || otherCpuPct < best.otherCpuPct) best = { result, otherCpuPct, tries };
    if (otherCpuPct <= OTHER_MAX_PCT || tries === maxTries) break;
    console.error(`[bench] ${label}: other processes took ${otherCpuPct.toFixed(0)}% of a core meanwhile; again`);
  }
  return best!;
}

/** CPU use of each named group of processes over a load run's measured part, % of one core. */
async function cpuDuring<T>(
  pids: Record<string, number[]>,
  started: Promise<unknown>,
  done: Promise<T>,
): Promise<{ result: T; cpu: Record<string, number> }> {
  const ticks = async (list: number[]) => (await Promise.all(list.map(procTicks))).reduce((a, b) => a + b, 0);
  await started;
  const t0 = performance.now();
  const p0 = Object.fromEntries(await Promise.all(Object.entries(pids).map(async ([k, p]) => [k, await ticks(p)])));
  const result = await done;
  const seconds = (performance.now() - t0) / 1000;
  const cpu: Record<string, number> = {};
  for (const [k, p] of Object.entries(pids)) cpu[k] = (((await ticks(p)) - p0[k]) / CLK_TCK / seconds) * 100;
  return { result, cpu };
}

// --- helper processes -----------------------------------------------------------------------------

interface Helper {
  port: number;
  pid: number;
  child: ChildProcess;
}

async function startHelper(file: string, args: string[]): Promise<Helper> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(process.cwd(), "scripts/bench", file), ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${file} exited ${code}`)));
    createInterface({ input: child.stdout! }).on("line", (l) => {
      const m = /^listening (\d+)$/.exec(l);
      if (m) resolve(Number(m[1]));
    });
  });
  return { port, pid: child.pid!, child };
}

function stopHelper(h: Helper): void {
  if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill("SIGTERM");
}

// --- the API ----------------------------------------------------------------------------------------

async function api(base: string, token: string | null, method: string, p: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`${base}${p}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text.slice(0, 300)}`);
  return text ? (JSON.parse(text) as unknown) : null;
}

async function tokenFor(base: string, username: string): Promise<string> {
  const r = (await api(base, null, "POST", "/api/v1/auth/token", { username, password: "demo-pass" })) as {
    access_token: string;
  };
  return r.access_token;
}

/** Until the data plane's gateway has the service (it loads the registry and follows NOTIFY). */
async function gatewayAnswers(rep: BenchReplica, service: string, auth: Record<string, string>): Promise<void> {
  let last = "";
  for (let i = 0; i < 120; i++) {
    const res = await fetch(`${rep.baseUrl}/api/v1/gw/${service}/`, { headers: auth });
    const body = await res.text();
    if (res.status === 200 && res.headers.get("x-hms-region") === "primary") return;
    last = `${res.status} ${body.slice(0, 200)}`;
    await sleep(250);
  }
  throw new Error(`gateway smoke test on ${rep.baseUrl} (${service}): ${last}`);
}

// --- results ----------------------------------------------------------------------------------------

/** Every row records how much CPU processes outside the benchmark took meanwhile (this host is shared). */
interface Disturbance {
  /** % of one core */
  otherCpuPct: number;
  /** 1 unless a disturbed try was run again */
  tries: number;
}

type TargetKey = "direct" | "bare" | "nginx" | "nginx-logged" | "ours" | "next";

export interface ThroughputRow extends Disturbance {
  concurrency: number;
  key: TargetKey;
  target: string;
  reqPerSec: number;
  p50ms: number;
  p90ms: number;
  p99ms: number;
  non2xx: number;
  errors: number;
  /** over the measured part, % of one core (null: not in the path) */
  cpu: { loadGenerator: number; upstream: number | null; proxy: number | null };
  /** the proxy's CPU time per 2xx answer, µs (null: no proxy) */
  proxyCpuUsPerReq: number | null;
}

export interface RatioRow {
  concurrency: number;
  oursToBare: number;
  oursToNginx: number | null;
  oursToDirect: number;
  nginxToBare: number | null;
  /** proxy CPU µs per request */
  cpuUsPerReq: { bare: number | null; nginx: number | null; nginxLogged: number | null; ours: number | null };
}

export interface PacedRow extends Disturbance {
  key: TargetKey;
  target: string;
  rate: number;
  ok: number;
  requests: number;
  p50ms: number;
  p90ms: number;
  p99ms: number;
  sendLagP99Ms: number;
}

export interface Delta {
  p50ms: number;
  p90ms: number;
  p99ms: number;
}

export interface FailoverResult extends Disturbance {
  rate: number;
  killAfterMs: number;
  windowS: number;
  breakerOpenMs: number | null;
  /** the trip as the gateway timed it (`circuits.last_trip_at` − kill) */
  tripAtMs: number | null;
  tripReason: string | null;
  firstSecondaryAnswerMs: number | null;
  firstFailoverHeaderMs: number | null;
  windowRequests: number;
  windowFailed: number;
  windowFailedPct: number;
  failedStatuses: Record<string, number>;
  primaryAnswersAfterOpen: number;
  secondaryShareAfterOpenPct: number;
}

export interface BRun extends Disturbance {
  p50ms: number;
  p99ms: number;
  /** the data plane's CPU over B's measured part, % of one core */
  dataPlaneCpuPct: number;
  ok: number;
  requests: number;
}

export interface NoisyRun extends BRun {
  aSentPerSec: number;
  aAdmittedPerSec: number;
  a429: number;
  aOther: number;
}

export interface NoisyResult {
  bRate: number;
  aRate: number;
  aLimit: { rps: number; burst: number };
  seconds: number;
  alone: BRun[];
  noisy: NoisyRun[];
  aloneP99: { min: number; max: number; median: number };
  noisyP99Median: number;
  /** median noisy p99 / median alone p99 */
  ratio: number;
  /** worst noisy p99 / median alone p99 */
  worstRatio: number;
}

export interface BurstRow extends Disturbance {
  label: string;
  limit: { rps: number; burst: number };
  processes: number;
  count: number;
  admitted: number;
  admittedPerProcess: number[];
  refused429: number;
  otherFailures: number;
  /** first request written → last answer */
  spanMs: number;
  /** burst + rps × span */
  allowedMax: number;
  overAdmissionPct: number;
}

export interface SustainedRow extends Disturbance {
  split: string;
  rate: number;
  sent: number;
  seconds: number;
  admitted: number;
  admittedPerProcess: number[];
  allowedMax: number;
  overAdmissionPct: number;
  rejected429: number;
  otherFailures: number;
}

export interface Goal {
  goal: string;
  figure: string;
  met: boolean;
}

export interface GatewayBenchResult {
  quick: boolean;
  settings: Settings;
  /** the machine when the run began: 1-minute load average */
  loadAvg1: number;
  nginx: { version: string } | { unavailable: string };
  throughput: ThroughputRow[];
  ratios: RatioRow[];
  paced: PacedRow[];
  added: { oursMinusBare: Delta; oursMinusDirect: Delta; nginxMinusDirect: Delta | null; bareMinusDirect: Delta };
  failover: FailoverResult;
  noisy: NoisyResult;
  bursts: BurstRow[];
  sustained: SustainedRow[];
  accessLog: { lines: number; gatewayLines: number; bytes: number };
  goals: Goal[];
}

const non2xxOf = (r: LoadResult) =>
  Object.entries(r.byStatus)
    .filter(([s]) => !s.startsWith("2"))
    .reduce((a, [, n]) => a + n, 0);

const delta = (a: PacedRow, b: PacedRow): Delta => ({
  p50ms: a.p50ms - b.p50ms,
  p90ms: a.p90ms - b.p90ms,
  p99ms: a.p99ms - b.p99ms,
});

// --- the benchmark ----------------------------------------------------------------------------------

export async function benchGateway(opts: { quick?: boolean } = {}): Promise<GatewayBenchResult> {
  const s = opts.quick ? QUICK : FULL;
  const logDir = await mkdtemp(path.join(tmpdir(), "hms-bench-gw-"));
  const keepLogs = process.env.HMS_BENCH_KEEP_LOGS === "1";
  const helpers: Helper[] = [];
  let sys: BenchSystem | null = null;
  let db: pg.Pool | null = null;
  let nginx: NginxProxy | null = null;
  try {
    const nginxMissing = ensureNginx();
    if (nginxMissing) console.error(`[bench] no nginx rows: ${nginxMissing}`);
    sys = await startBenchSystem(
      { HMS_DEMO: "1", HMS_LOG_LEVEL: "info", HMS_TOKEN_TTL_SECONDS: "14400" },
      { replicas: 2, logDir },
    );
    const [r0, r1] = sys.replicas as [BenchReplica, BenchReplica];
    const webPid = sys.webPid;
    db = new pg.Pool({ connectionString: sys.db.ownerUrl, max: 2, options: "-c app.tenant_id=*" });

    const upstream = await startHelper("upstream-server.ts", ["0"]);
    const bare = await startHelper("bare-proxy.ts", ["0", String(upstream.port)]);
    const primary = await startHelper("upstream-server.ts", ["0"]);
    const secondary = await startHelper("upstream-server.ts", ["0"]);
    helpers.push(upstream, bare, primary, secondary);
    if (!nginxMissing) nginx = await startNginx(upstream.port);

    const admin = await tokenFor(r0.baseUrl, "admin");
    const opA = await tokenFor(r0.baseUrl, "operator-a");
    const opB = await tokenFor(r0.baseUrl, "operator-b");
    const up = (h: Helper) => `http://127.0.0.1:${h.port}`;
    const register = (name: string, tenant: string, instances: { url: string; region?: string }[]) =>
      api(r0.baseUrl, admin, "POST", "/api/v1/services", { name, tenant, instances });
    await register("bench", "agency-a", [{ url: up(upstream) }]);
    await register("bench-b", "agency-b", [{ url: up(upstream) }]);
    await register("bench-failover", "agency-a", [
      { url: up(primary), region: "primary" },
      { url: up(secondary), region: "secondary" },
    ]);
    const setLimit = (tenant: string, l: { rps: number; burst: number }) =>
      api(r0.baseUrl, admin, "PUT", `/api/v1/tenants/${tenant}/limits`, l);
    await setLimit("agency-a", HIGH_LIMIT);
    await setLimit("agency-b", HIGH_LIMIT);

    const authA = { authorization: `Bearer ${opA}` };
    const authB = { authorization: `Bearer ${opB}` };
    for (const r of [r0, r1]) {
      await gatewayAnswers(r, "bench", authA);
      await gatewayAnswers(r, "bench-failover", authA);
    }
    await gatewayAnswers(r0, "bench-b", authB);
    const loadAvg1 = loadavg()[0]!;

    // 1: closed-loop throughput, all targets interleaved per concurrency.
    interface Target {
      key: TargetKey;
      target: string;
      url: string;
      proxyPids: number[] | null;
      upstreamPid: number | null;
    }
    const targets = (c: number, forLatency = false): Target[] => [
      {
        key: "direct",
        target: "direct to upstream",
        url: `${up(upstream)}/`,
        proxyPids: null,
        upstreamPid: upstream.pid,
      },
      {
        key: "bare",
        target: "bare node:http proxy",
        url: `http://127.0.0.1:${bare.port}/`,
        proxyPids: [bare.pid],
        upstreamPid: upstream.pid,
      },
      ...(nginx
        ? [
            {
              key: "nginx" as const,
              target: "nginx (1 worker, keep-alive upstream, no access log)",
              url: `http://127.0.0.1:${nginx.port}/`,
              proxyPids: [nginx.workerPid, nginx.masterPid],
              upstreamPid: upstream.pid,
            },
            ...(forLatency
              ? []
              : [
                  {
                    key: "nginx-logged" as const,
                    target: "nginx, access log to a file (buffer=64k)",
                    url: `http://127.0.0.1:${nginx.loggedPort}/`,
                    proxyPids: [nginx.workerPid, nginx.masterPid],
                    upstreamPid: upstream.pid,
                  },
                ]),
          ]
        : []),
      {
        key: "ours",
        target: "our data plane (gateway-server.ts)",
        url: `${r0.baseUrl}/api/v1/gw/bench/`,
        proxyPids: [r0.pid],
        upstreamPid: upstream.pid,
      },
      ...(c === 10 && !forLatency
        ? [
            {
              key: "next" as const,
              target: "Next.js route through the pass-through (/.well-known/jwks.json)",
              url: `${r0.baseUrl}/.well-known/jwks.json`,
              proxyPids: [r0.pid],
              upstreamPid: webPid, // the web process is this row's upstream
            },
          ]
        : []),
    ];
    const throughput: ThroughputRow[] = [];
    for (const c of CONCURRENCIES) {
      for (const t of targets(c)) {
        const label = `c${c} ${t.target}`;
        const m = await measured(s, label, async () => {
          const load = startLoad({
            kind: "closed",
            url: t.url,
            headers: authA, // the same request bytes everywhere (the upstream ignores the header)
            connections: c,
            warmupSeconds: s.closedWarmupS,
            seconds: s.closedS,
          });
          const pids: Record<string, number[]> = {};
          if (t.upstreamPid !== null) pids.upstream = [t.upstreamPid];
          if (t.proxyPids !== null) pids.proxy = t.proxyPids;
          return cpuDuring(pids, load.started, load.done);
        });
        const { result: r, cpu } = m.result;
        const proxyCpu = t.proxyPids === null ? null : cpu.proxy!;
        throughput.push({
          concurrency: c,
          key: t.key,
          target: t.target,
          reqPerSec: r.okPerSec,
          p50ms: r.p50ms,
          p90ms: r.p90ms,
          p99ms: r.p99ms,
          non2xx: non2xxOf(r),
          errors: r.errors,
          cpu: { loadGenerator: r.cpuPercent, upstream: cpu.upstream ?? null, proxy: proxyCpu },
          proxyCpuUsPerReq: proxyCpu === null || r.okPerSec === 0 ? null : (proxyCpu * 10_000) / r.okPerSec,
          otherCpuPct: m.otherCpuPct,
          tries: m.tries,
        });
        console.error(
          `[bench] gateway ${label}: ${r.okPerSec.toFixed(0)} req/s, p50 ${r.p50ms.toFixed(1)} ms, p99 ${r.p99ms.toFixed(1)} ms` +
            (non2xxOf(r) || r.errors ? ` (${non2xxOf(r)} non-2xx, ${r.errors} errors)` : "") +
            `; others ${m.otherCpuPct.toFixed(0)}%`,
        );
      }
    }
    const rowOf = (c: number, key: TargetKey) => throughput.find((r) => r.concurrency === c && r.key === key);
    const ratios: RatioRow[] = CONCURRENCIES.map((c) => {
      const ours = rowOf(c, "ours")!;
      const nx = rowOf(c, "nginx");
      return {
        concurrency: c,
        oursToBare: ours.reqPerSec / rowOf(c, "bare")!.reqPerSec,
        oursToNginx: nx ? ours.reqPerSec / nx.reqPerSec : null,
        oursToDirect: ours.reqPerSec / rowOf(c, "direct")!.reqPerSec,
        nginxToBare: nx ? nx.reqPerSec / rowOf(c, "bare")!.reqPerSec : null,
        cpuUsPerReq: {
          bare: rowOf(c, "bare")!.proxyCpuUsPerReq,
          nginx: nx?.proxyCpuUsPerReq ?? null,
          nginxLogged: rowOf(c, "nginx-logged")?.proxyCpuUsPerReq ?? null,
          ours: ours.proxyCpuUsPerReq,
        },
      };
    });

    // 2: added latency at a fixed rate.
    const paced: PacedRow[] = [];
    for (const t of targets(50, true)) {
      const m = await measured(
        s,
        `${PACED_RATE} req/s ${t.target}`,
        () =>
          startLoad({
            kind: "paced",
            targets: [{ url: t.url, share: 1 }],
            headers: authA,
            rate: PACED_RATE,
            warmupSeconds: s.pacedWarmupS,
            seconds: s.pacedS,
          }).done,
      );
      const r = m.result;
      paced.push({
        key: t.key,
        target: t.target,
        rate: PACED_RATE,
        ok: r.ok,
        requests: r.requests,
        p50ms: r.p50ms,
        p90ms: r.p90ms,
        p99ms: r.p99ms,
        sendLagP99Ms: r.sendLagP99Ms ?? NaN,
        otherCpuPct: m.otherCpuPct,
        tries: m.tries,
      });
      console.error(
        `[bench] gateway ${PACED_RATE} req/s ${t.target}: p50 ${r.p50ms.toFixed(2)} ms, p99 ${r.p99ms.toFixed(2)} ms (${r.ok}/${r.requests} 2xx); others ${m.otherCpuPct.toFixed(0)}%`,
      );
    }
    const pacedOf = (k: TargetKey) => paced.find((p) => p.key === k);
    const added = {
      oursMinusBare: delta(pacedOf("ours")!, pacedOf("bare")!),
      oursMinusDirect: delta(pacedOf("ours")!, pacedOf("direct")!),
      nginxMinusDirect: pacedOf("nginx") ? delta(pacedOf("nginx")!, pacedOf("direct")!) : null,
      bareMinusDirect: delta(pacedOf("bare")!, pacedOf("direct")!),
    };

    // 3: failover (once: it kills the primary).
    const fm = await measured(s, "failover", () => measureFailover(s, db!, r0.baseUrl, authA, primary), undefined, 1);
    const failover: FailoverResult = { ...fm.result, otherCpuPct: fm.otherCpuPct, tries: 1 };

    // 4: noisy neighbour: B alone (≥ 3 runs: the figure's own spread) and under A's noise, interleaved.
    await setLimit("agency-a", NOISY_A_LIMIT);
    await sleep(1_500);
    const bSpec: LoadSpec = {
      kind: "paced",
      targets: [{ url: `${r0.baseUrl}/api/v1/gw/bench-b/`, share: 1 }],
      headers: authB,
      rate: NOISY_B_RATE,
      warmupSeconds: s.noisyWarmupS,
      seconds: s.noisyS,
    };
    const aSeconds = s.noisyS + s.noisyWarmupS + 3;
    const bRun = () => {
      const b = startLoad(bSpec);
      return cpuDuring({ dataPlane: [r0.pid] }, b.started, b.done);
    };
    const bFigures = (r: LoadResult, dataPlaneCpuPct: number, m: Disturbance): BRun => ({
      p50ms: r.p50ms,
      p99ms: r.p99ms,
      dataPlaneCpuPct,
      ok: r.ok,
      requests: r.requests,
      otherCpuPct: m.otherCpuPct,
      tries: m.tries,
    });
    const alone: BRun[] = [];
    const noisyRuns: NoisyRun[] = [];
    for (let i = 0; i < Math.max(s.noisyAloneRuns, s.noisyRounds); i++) {
      if (i < s.noisyAloneRuns) {
        const m = await measured(s, `noisy: B alone, run ${i + 1}`, bRun);
        alone.push(bFigures(m.result.result, m.result.cpu.dataPlane!, m));
        console.error(`[bench] noisy: B alone run ${i + 1}: p99 ${m.result.result.p99ms.toFixed(2)} ms`);
      }
      if (i < s.noisyRounds) {
        const m = await measured(s, `noisy: B under noise, run ${i + 1}`, async () => {
          const a = startLoad({
            kind: "paced",
            targets: [{ url: `${r0.baseUrl}/api/v1/gw/bench/`, share: 1 }],
            headers: authA,
            rate: NOISY_A_RATE,
            warmupSeconds: 1,
            seconds: aSeconds,
          });
          await a.started;
          const b = await bRun();
          return { b, a: await a.done };
        });
        const ar = m.result.a;
        const a429 = ar.byStatus["429"] ?? 0;
        noisyRuns.push({
          ...bFigures(m.result.b.result, m.result.b.cpu.dataPlane!, m),
          aSentPerSec: ar.requests / aSeconds,
          aAdmittedPerSec: ar.ok / aSeconds,
          a429,
          aOther: ar.requests - ar.ok - a429,
        });
        console.error(
          `[bench] noisy: B under noise run ${i + 1}: p99 ${m.result.b.result.p99ms.toFixed(2)} ms; A admitted ${(ar.ok / aSeconds).toFixed(1)}/s, ${a429} × 429`,
        );
      }
    }
    const aloneP99s = alone.map((x) => x.p99ms);
    const aloneMedian = median(aloneP99s);
    const noisyP99Median = median(noisyRuns.map((x) => x.p99ms));
    const noisy: NoisyResult = {
      bRate: NOISY_B_RATE,
      aRate: NOISY_A_RATE,
      aLimit: NOISY_A_LIMIT,
      seconds: s.noisyS,
      alone,
      noisy: noisyRuns,
      aloneP99: { min: Math.min(...aloneP99s), max: Math.max(...aloneP99s), median: aloneMedian },
      noisyP99Median,
      ratio: noisyP99Median / aloneMedian,
      worstRatio: Math.max(...noisyRuns.map((x) => x.p99ms)) / aloneMedian,
    };

    // 5: burst fairness, then sustained over-admission across two data planes.
    /** a new limit (which also refills the shared bucket), once every data plane has it and the bucket is full */
    const freshLimit = async (l: { rps: number; burst: number }) => {
      await setLimit("agency-a", l);
      await sleep(1_500 + Math.min(3_000, (l.burst / l.rps) * 1_000));
    };
    const bursts: BurstRow[] = [];
    for (const [label, limit, reps] of [
      [`${BURST_COUNT} at once, one data plane`, BURST_WIDE, [r0]],
      [`${BURST_COUNT} at once, one data plane`, BURST_NARROW, [r0]],
      [`${BURST_COUNT} at once, split over two data planes`, BURST_NARROW, [r0, r1]],
    ] as const) {
      const m = await measured(
        s,
        `burst ${label} under ${limit.rps}/${limit.burst}`,
        () =>
          startLoad({
            kind: "burst",
            targets: reps.map((rep) => ({ url: `${rep.baseUrl}/api/v1/gw/bench/`, share: 1 })),
            headers: authA,
            count: BURST_COUNT,
          }).done,
        () => freshLimit(limit),
      );
      const r = m.result;
      const spanMs = r.spanMs ?? NaN;
      const allowedMax = limit.burst + (limit.rps * spanMs) / 1000;
      const refused = r.byStatus["429"] ?? 0;
      bursts.push({
        label,
        limit,
        processes: reps.length,
        count: BURST_COUNT,
        admitted: r.ok,
        admittedPerProcess: (r.perTarget ?? []).map((t) => t.ok),
        refused429: refused,
        otherFailures: r.requests - r.ok - refused,
        spanMs,
        allowedMax,
        overAdmissionPct: ((r.ok - allowedMax) / allowedMax) * 100,
        otherCpuPct: m.otherCpuPct,
        tries: m.tries,
      });
      console.error(
        `[bench] burst ${label} under ${limit.rps}/${limit.burst}: admitted ${r.ok} of ${BURST_COUNT} in ${spanMs.toFixed(0)} ms (${refused} × 429, ${r.requests - r.ok - refused} other)`,
      );
    }

    const sustained: SustainedRow[] = [];
    for (const [label, shares] of [
      ["50 % / 50 %", [1, 1]],
      ["90 % / 10 %", [9, 1]],
    ] as const) {
      const m = await measured(
        s,
        `sustained ${label}`,
        () =>
          startLoad({
            kind: "paced",
            targets: [r0, r1].map((rep, i) => ({ url: `${rep.baseUrl}/api/v1/gw/bench/`, share: shares[i]! })),
            headers: authA,
            rate: SUSTAINED_RATE,
            seconds: s.sustainedS,
          }).done,
        () => freshLimit(SUSTAINED_LIMIT),
      );
      const r = m.result;
      const allowedMax = SUSTAINED_LIMIT.rps * s.sustainedS + SUSTAINED_LIMIT.burst;
      const rejected = r.byStatus["429"] ?? 0;
      sustained.push({
        split: label,
        rate: SUSTAINED_RATE,
        sent: r.requests,
        seconds: s.sustainedS,
        admitted: r.ok,
        admittedPerProcess: (r.perTarget ?? []).map((t) => t.ok),
        allowedMax,
        overAdmissionPct: ((r.ok - allowedMax) / allowedMax) * 100,
        rejected429: rejected,
        otherFailures: r.requests - r.ok - rejected,
        otherCpuPct: m.otherCpuPct,
        tries: m.tries,
      });
      console.error(`[bench] sustained ${label}: admitted ${r.ok} of ${r.requests} (max ${allowedMax})`);
    }

    await sys.stop(); // flushes the access logs
    sys = null;
    const log = r0.accessLogFile ? await readFile(r0.accessLogFile, "utf8").catch(() => "") : "";
    const lines = log.split("\n").filter(Boolean);
    const result: Omit<GatewayBenchResult, "goals"> = {
      quick: s.quick,
      settings: s,
      loadAvg1,
      nginx: nginx ? { version: nginx.version } : { unavailable: nginxMissing ?? "not started" },
      throughput,
      ratios,
      paced,
      added,
      failover,
      noisy,
      bursts,
      sustained,
      accessLog: {
        lines: lines.length,
        gatewayLines: lines.filter((l) => l.includes('"msg":"gateway"')).length,
        bytes: Buffer.byteLength(log),
      },
    };
    return { ...result, goals: goalsOf(result) };
  } finally {
    for (const h of helpers) stopHelper(h);
    await nginx?.stop();
    await db?.end();
    await sys?.stop();
    if (keepLogs) console.error(`[bench] logs kept in ${logDir}`);
    else await rm(logDir, { recursive: true, force: true });
  }
}

async function measureFailover(
  s: Settings,
  db: pg.Pool,
  base: string,
  auth: Record<string, string>,
  primary: Helper,
): Promise<Omit<FailoverResult, keyof Disturbance>> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT i.id FROM instances i JOIN services s ON s.id = i.service_id
      WHERE s.name = 'bench-failover' AND i.region = 'primary'`,
  );
  const primaryId = rows[0]!.id;
  // GETs: idempotent, so a request the dead primary may have received is retried on the secondary.
  const load = startLoad({
    kind: "paced",
    targets: [{ url: `${base}/api/v1/gw/bench-failover/`, share: 1 }],
    headers: auth,
    rate: FAILOVER_RATE,
    warmupSeconds: 1,
    seconds: s.failoverS,
    records: true,
  });
  await load.started;
  await sleep(s.failoverKillAfterMs);
  const killAt = Date.now();
  primary.child.kill("SIGKILL");
  let openAt: number | null = null;
  let trip: { last_trip_at: Date | null; reason: string | null } | null = null;
  while (Date.now() - killAt < 10_000) {
    const r = await db.query<{ state: string; last_trip_at: Date | null; reason: string | null }>(
      `SELECT state, last_trip_at, reason FROM circuits WHERE instance_id = $1`,
      [primaryId],
    );
    if (r.rows[0]?.state === "open") {
      openAt = Date.now();
      trip = r.rows[0];
      break;
    }
    await sleep(10);
  }
  const result: LoadResult = await load.done;
  const records: LoadRecord[] = result.records ?? [];
  const answeredAt = (x: LoadRecord) => x.t + x.ms;
  const afterKill = records.filter((x) => answeredAt(x) >= killAt);
  const firstSecondary = afterKill.filter((x) => x.r === "secondary").map(answeredAt);
  const firstFailover = afterKill.filter((x) => x.f).map(answeredAt);
  const half = (s.failoverWindowS / 2) * 1000;
  const window = records.filter((x) => x.t >= killAt - half && x.t < killAt + half);
  const failed = window.filter((x) => x.s < 200 || x.s >= 300);
  const failedStatuses: Record<string, number> = {};
  for (const x of failed) {
    const k = x.s === 0 ? (x.e ?? "error") : String(x.s);
    failedStatuses[k] = (failedStatuses[k] ?? 0) + 1;
  }
  const afterOpen = openAt === null ? [] : records.filter((x) => x.t >= openAt! && x.s >= 200 && x.s < 300);
  const out = {
    rate: FAILOVER_RATE,
    killAfterMs: s.failoverKillAfterMs,
    windowS: s.failoverWindowS,
    breakerOpenMs: openAt === null ? null : openAt - killAt,
    tripAtMs: trip?.last_trip_at ? trip.last_trip_at.getTime() - killAt : null,
    tripReason: trip?.reason ?? null,
    firstSecondaryAnswerMs: firstSecondary.length ? Math.min(...firstSecondary) - killAt : null,
    firstFailoverHeaderMs: firstFailover.length ? Math.min(...firstFailover) - killAt : null,
    windowRequests: window.length,
    windowFailed: failed.length,
    windowFailedPct: window.length ? (failed.length / window.length) * 100 : NaN,
    failedStatuses,
    primaryAnswersAfterOpen: afterOpen.filter((x) => x.r === "primary").length,
    secondaryShareAfterOpenPct: afterOpen.length
      ? (afterOpen.filter((x) => x.r === "secondary").length / afterOpen.length) * 100
      : NaN,
  };
  console.error(
    `[bench] failover: breaker open after ${out.breakerOpenMs} ms, first secondary answer after ${out.firstSecondaryAnswerMs?.toFixed(0)} ms, ${out.windowFailed}/${out.windowRequests} failed`,
  );
  return out;
}

// --- goals --------------------------------------------------------------------------------------------

const ms = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(2)} ms`;
const signedPct = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(1)} %`;

/** Each goal judged from the figures of this run. */
export function goalsOf(r: Omit<GatewayBenchResult, "goals">): Goal[] {
  const goals: Goal[] = [];
  for (const x of r.ratios) {
    goals.push({
      goal: `c${x.concurrency} throughput ≥ ${GOALS.oursToBareMin * 100} % of the bare proxy (issue 4)`,
      figure: `${(x.oursToBare * 100).toFixed(0)} %`,
      met: x.oursToBare >= GOALS.oursToBareMin,
    });
  }
  goals.push(
    {
      goal: `added p50 at ${PACED_RATE} req/s (ours − bare proxy) ≤ +${GOALS.addedP50MaxMs} ms`,
      figure: ms(r.added.oursMinusBare.p50ms),
      met: r.added.oursMinusBare.p50ms <= GOALS.addedP50MaxMs,
    },
    {
      goal: `added p99 ≤ +${GOALS.addedP99MaxMs} ms`,
      figure: ms(r.added.oursMinusBare.p99ms),
      met: r.added.oursMinusBare.p99ms <= GOALS.addedP99MaxMs,
    },
    {
      goal: `noisy neighbour p99 ≤ ×${GOALS.noisyRatioMax} of alone`,
      figure: `×${r.noisy.ratio.toFixed(2)}`,
      met: r.noisy.ratio <= GOALS.noisyRatioMax,
    },
  );
  for (const b of r.bursts) {
    const name = `${b.count} at once under ${b.limit.rps}/${b.limit.burst}${b.processes > 1 ? ` over ${b.processes} data planes` : ""}`;
    if (b.limit.burst >= b.count) {
      const refused = b.refused429 + b.otherFailures;
      goals.push({ goal: `${name}: 0 refused`, figure: `${refused} refused`, met: refused === 0 });
    } else if (b.processes === 1) {
      const [lo, hi] = GOALS.burstNarrowAdmitted;
      goals.push({
        goal: `${name}: ${lo}–${hi} admitted`,
        figure: `${b.admitted}`,
        met: b.admitted >= lo && b.admitted <= hi,
      });
    } else {
      goals.push({
        goal: `${name}: over-admission ≤ ${GOALS.overAdmissionMaxPct} %`,
        figure: `${b.admitted} of ≤ ${b.allowedMax.toFixed(0)} (${signedPct(b.overAdmissionPct)})`,
        met: b.overAdmissionPct <= GOALS.overAdmissionMaxPct,
      });
    }
  }
  for (const x of r.sustained) {
    goals.push({
      goal: `${x.rate} req/s for ${x.seconds} s under ${SUSTAINED_LIMIT.rps}/${SUSTAINED_LIMIT.burst} over 2 data planes (${x.split}): over-admission ≤ ${GOALS.overAdmissionMaxPct} %`,
      figure: signedPct(x.overAdmissionPct),
      met: x.overAdmissionPct <= GOALS.overAdmissionMaxPct,
    });
  }
  const fo = r.failover;
  goals.push(
    {
      goal: `failover: first answer from the secondary ≤ ${GOALS.failoverFirstSecondaryMaxMs / 1000} s after the kill`,
      figure: fo.firstSecondaryAnswerMs === null ? "never" : `${fo.firstSecondaryAnswerMs.toFixed(0)} ms`,
      met: fo.firstSecondaryAnswerMs !== null && fo.firstSecondaryAnswerMs <= GOALS.failoverFirstSecondaryMaxMs,
    },
    {
      goal: "failover: 0 failed GETs",
      figure: `${fo.windowFailed} of ${fo.windowRequests}`,
      met: fo.windowFailed === 0,
    },
  );
  return goals;
}

// --- Markdown ----------------------------------------------------------------------------------------

const f1 = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? "—" : v.toFixed(1));
const f2 = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? "—" : v.toFixed(2));
const f0 = (v: number | null | undefined) =>
  v === null || v === undefined || Number.isNaN(v) ? "—" : Math.round(v).toLocaleString("en-US");
const pct = (v: number | null) => (v === null || Number.isNaN(v) ? "—" : `${v.toFixed(0)}%`);
const others = (d: Disturbance) => `${pct(d.otherCpuPct)}${d.tries > 1 ? ` (try ${d.tries})` : ""}`;
const plus = (v: number | null | undefined) =>
  v === null || v === undefined || Number.isNaN(v) ? "—" : `${v >= 0 ? "+" : ""}${v.toFixed(1)}`;

export function formatGateway(r: GatewayBenchResult): string {
  const s = r.settings;
  const out: string[] = [];
  const goals = goalsOf(r);
  const met = goals.filter((g) => g.met).length;
  out.push(
    ...(r.quick
      ? [
          "**Quick mode** (`--quick`): 1 s warm-ups, 2 s measured, one try per row, no wait for a quiet machine — a check that the suite works end to end; these figures are not for the record.",
          "",
        ]
      : []),
    `**Goals: ${met} of ${goals.length} met.** ${goals.map((g) => `${g.goal}: ${g.figure} ${g.met ? "✅" : "❌"}`).join("; ")}.`,
    "",
    `The system as \`npm start\` runs it: two data-plane processes (\`scripts/gateway-server.ts\`: the gateway, the queue calls and a pass-through of everything else) in front of one web process (Next.js, shared by both), one embedded PostgreSQL. Our gateway is called as \`operator-a\` (a JWT; operators, admins and service tokens may call a service by default, veterans may not), with its tenant limit at ${HIGH_LIMIT.rps.toLocaleString("en-US")} rps (on, never refusing), breakers, metrics, traffic roll-ups and the access log written to a file. nginx: ${"version" in r.nginx ? `${r.nginx.version}, Debian's nginx-light, run unprivileged, one worker, \`keepalive 64\` to the upstream, \`proxy_http_version 1.1\`, \`Connection ""\`, \`access_log off\` (and a variant logging every request to a file, \`buffer=64k\`, like ours)` : `not measured (${r.nginx.unavailable})`}.`,
    "",
    s.quietWaitMs > 0
      ? `Each row first waits (up to ${s.quietWaitMs / 1000} s) for the machine to be ≤ ${QUIET_PCT} % busy; "others" is the CPU that processes outside this benchmark took during the row, in % of one core (a row with more than ${OTHER_MAX_PCT} % is run again, up to ${s.maxTries} tries, and the least disturbed try kept). Load average when the run began: ${r.loadAvg1.toFixed(2)}.`
      : `"others" is the CPU that processes outside this benchmark took during the row, in % of one core. Load average when the run began: ${r.loadAvg1.toFixed(2)}.`,
    "",
    `### Throughput, concurrency ${CONCURRENCIES.join(" and ")}`,
    "",
    `Closed loop, keep-alive, ${s.closedWarmupS} s warm-up then ${s.closedS} s measured per row; latency over 2xx answers; CPU of the load generator, the upstream and the proxy over the measured part, in % of one core (nginx: master + its one worker; the Next.js row's upstream is the web process); "proxy CPU µs / req" is the proxy's CPU time per answered request, the figure least disturbed by the other processes on the machine.`,
    "",
    "| conc | target | req/s | p50 ms | p90 ms | p99 ms | non-2xx | errors | vs bare proxy | CPU load gen | CPU upstream | CPU proxy | proxy CPU µs / req | others |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const t of r.throughput) {
    const bare = r.throughput.find((x) => x.concurrency === t.concurrency && x.key === "bare")!;
    out.push(
      `| ${t.concurrency} | ${t.target} | ${f0(t.reqPerSec)} | ${f1(t.p50ms)} | ${f1(t.p90ms)} | ${f1(t.p99ms)} | ${t.non2xx} | ${t.errors} | ${pct((t.reqPerSec / bare.reqPerSec) * 100)} | ${pct(t.cpu.loadGenerator)} | ${pct(t.cpu.upstream)} | ${pct(t.cpu.proxy)} | ${f0(t.proxyCpuUsPerReq)} | ${others(t)} |`,
    );
  }
  out.push(
    "",
    "| conc | ours / bare proxy | ours / nginx | nginx / bare proxy | ours / direct | proxy CPU µs / req: bare proxy | nginx | nginx + access log | ours |",
    "|---|---|---|---|---|---|---|---|---|",
    ...r.ratios.map(
      (x) =>
        `| ${x.concurrency} | **${pct(x.oursToBare * 100)}** | **${pct(x.oursToNginx === null ? null : x.oursToNginx * 100)}** | ${pct(x.nginxToBare === null ? null : x.nginxToBare * 100)} | ${pct(x.oursToDirect * 100)} | ${f0(x.cpuUsPerReq.bare)} | ${f0(x.cpuUsPerReq.nginx)} | ${f0(x.cpuUsPerReq.nginxLogged)} | ${f0(x.cpuUsPerReq.ours)} |`,
    ),
    "",
    `### Added latency at a fixed ${PACED_RATE} req/s`,
    "",
    `Open loop (${s.pacedS} s after ${s.pacedWarmupS} s warm-up; latency from each request's send to the end of its answer):`,
    "",
    "| target | 2xx / sent | p50 ms | p90 ms | p99 ms | generator send lag p99 ms | others |",
    "|---|---|---|---|---|---|---|",
    ...r.paced.map(
      (p) =>
        `| ${p.target} | ${p.ok} / ${p.requests} | ${f2(p.p50ms)} | ${f2(p.p90ms)} | ${f2(p.p99ms)} | ${f1(p.sendLagP99Ms)} | ${others(p)} |`,
    ),
    "",
    "| difference | p50 ms | p90 ms | p99 ms |",
    "|---|---|---|---|",
    `| **ours − bare proxy** (goal ≤ +${GOALS.addedP50MaxMs} p50, ≤ +${GOALS.addedP99MaxMs} p99) | **${plus(r.added.oursMinusBare.p50ms)}** | ${plus(r.added.oursMinusBare.p90ms)} | **${plus(r.added.oursMinusBare.p99ms)}** |`,
    `| ours − direct | ${plus(r.added.oursMinusDirect.p50ms)} | ${plus(r.added.oursMinusDirect.p90ms)} | ${plus(r.added.oursMinusDirect.p99ms)} |`,
    ...(r.added.nginxMinusDirect
      ? [
          `| nginx − direct | ${plus(r.added.nginxMinusDirect.p50ms)} | ${plus(r.added.nginxMinusDirect.p90ms)} | ${plus(r.added.nginxMinusDirect.p99ms)} |`,
        ]
      : []),
    `| bare proxy − direct | ${plus(r.added.bareMinusDirect.p50ms)} | ${plus(r.added.bareMinusDirect.p90ms)} | ${plus(r.added.bareMinusDirect.p99ms)} |`,
    "",
  );
  const fo = r.failover;
  out.push(
    "### Failover",
    "",
    `${fo.rate} GETs/s through the gateway to a service with a primary and a secondary instance (separate upstream processes); the primary's process SIGKILLed after ${fo.killAfterMs / 1000} s (others: ${others(fo)}).`,
    "",
    "| measure | value |",
    "|---|---|",
    `| kill → breaker row \`open\` in \`circuits\` (polled every 10 ms) | ${fo.breakerOpenMs === null ? "never (10 s)" : `${f0(fo.breakerOpenMs)} ms`} |`,
    `| kill → trip as timed by the gateway (\`last_trip_at\`) | ${fo.tripAtMs === null ? "—" : `${f0(fo.tripAtMs)} ms`} (${fo.tripReason ?? "—"}) |`,
    `| kill → first answer with \`x-hms-region: secondary\` (goal ≤ ${GOALS.failoverFirstSecondaryMaxMs} ms) | ${fo.firstSecondaryAnswerMs === null ? "never" : `**${f0(fo.firstSecondaryAnswerMs)} ms**`} |`,
    `| kill → first answer with \`x-hms-failover\` | ${fo.firstFailoverHeaderMs === null ? "never" : `${f0(fo.firstFailoverHeaderMs)} ms`} |`,
    `| failed requests (non-2xx or error), ${fo.windowS} s window around the kill (goal 0) | **${fo.windowFailed}** of ${fo.windowRequests} (${fo.windowFailedPct.toFixed(2)} %)${
      fo.windowFailed
        ? ` — ${Object.entries(fo.failedStatuses)
            .map(([k, v]) => `${v} × ${k}`)
            .join(", ")}`
        : ""
    } |`,
    `| answers from the primary after the breaker opened | ${fo.primaryAnswersAfterOpen} (secondary: ${f1(fo.secondaryShareAfterOpenPct)} %) |`,
    "",
  );
  const n = r.noisy;
  out.push(
    "### Noisy neighbour",
    "",
    `agency-b (\`operator-b\`) at ${n.bRate} req/s (${n.seconds} s after ${s.noisyWarmupS} s warm-up), alone and while agency-a sends ${n.aRate} req/s — 10× its limit of ${n.aLimit.rps} rps / burst ${n.aLimit.burst} — to the same data plane; runs interleaved (alone, noisy, alone, …).`,
    "",
    "| run | B p50 ms | B p99 ms | data-plane CPU | A sent req/s | A admitted req/s | A 429s | others |",
    "|---|---|---|---|---|---|---|---|",
    ...n.alone.map(
      (x, i) =>
        `| alone ${i + 1} | ${f2(x.p50ms)} | ${f2(x.p99ms)} | ${pct(x.dataPlaneCpuPct)} | — | — | — | ${others(x)} |`,
    ),
    ...n.noisy.map(
      (x, i) =>
        `| under noise ${i + 1} | ${f2(x.p50ms)} | ${f2(x.p99ms)} | ${pct(x.dataPlaneCpuPct)} | ${f1(x.aSentPerSec)} | ${f1(x.aAdmittedPerSec)} | ${f0(x.a429)}${x.aOther ? ` (+${x.aOther} other)` : ""} | ${others(x)} |`,
    ),
    "",
    `B's p99 alone: median **${f2(n.aloneP99.median)} ms** (spread ${f2(n.aloneP99.min)}–${f2(n.aloneP99.max)} ms over ${n.alone.length} runs); under noise: median ${f2(n.noisyP99Median)} ms. Ratio noisy / alone median **×${f2(n.ratio)}** (goal ≤ ×${GOALS.noisyRatioMax}; worst noisy run ×${f2(n.worstRatio)}).`,
    "",
    "### Burst fairness and over-admission",
    "",
    `${BURST_COUNT} requests at once: ${BURST_COUNT} sockets connected first, then every request written in one turn of the load generator's event loop. Each row sets the limit first (which refills the bucket) and waits until every data plane has it and the bucket is full. Allowed maximum = burst + rps × the burst's span (first request → last answer); under a burst of ${BURST_WIDE.burst} every request must be admitted.`,
    "",
    "| burst | limit rps / burst | admitted (per data plane) | allowed max | over-admission | 429s | other failures | span ms | others |",
    "|---|---|---|---|---|---|---|---|---|",
    ...r.bursts.map(
      (b) =>
        `| ${b.label} | ${b.limit.rps} / ${b.limit.burst} | **${f0(b.admitted)}**${b.admittedPerProcess.length > 1 ? ` (${b.admittedPerProcess.map(f0).join(" + ")})` : ""} | ${b.limit.burst >= b.count ? "all" : f0(b.allowedMax)} | ${b.limit.burst >= b.count ? "—" : signedPct(b.overAdmissionPct)} | **${f0(b.refused429)}** | ${b.otherFailures} | ${f0(b.spanMs)} | ${others(b)} |`,
    ),
    "",
    `Sustained, across the two data planes on one database: limit ${SUSTAINED_LIMIT.rps} rps / burst ${SUSTAINED_LIMIT.burst}, ${SUSTAINED_RATE} req/s (3×) for ${s.sustainedS} s; allowed maximum = burst + rps × seconds.`,
    "",
    "| split (data plane 1 / 2) | sent | admitted (1 + 2) | allowed max | over-admission | 429s | other failures | others |",
    "|---|---|---|---|---|---|---|---|",
    ...r.sustained.map(
      (x) =>
        `| ${x.split} | ${f0(x.sent)} | ${f0(x.admitted)} (${x.admittedPerProcess.map(f0).join(" + ")}) | ${f0(x.allowedMax)} | **${signedPct(x.overAdmissionPct)}** | ${f0(x.rejected429)} | ${x.otherFailures} | ${others(x)} |`,
    ),
    "",
    `Access log of data plane 1 (HMS_LOG_LEVEL=info, \`HMS_ACCESS_LOG_FILE\`): ${f0(r.accessLog.gatewayLines)} gateway lines, ${(r.accessLog.bytes / 2 ** 20).toFixed(1)} MiB.`,
  );
  return out.join("\n");
}
