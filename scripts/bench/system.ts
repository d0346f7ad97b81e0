import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { startEphemeralDatabase, type EphemeralDb } from "../../lib/db/ephemeral";
import { freePort } from "../../lib/db/free-port";
import { seedDemo } from "../../lib/db/seed-demo";
import { buildIsStale } from "../../lib/system/build-freshness";

/**
 * The real system for benchmarks, wired the way `npm start` (scripts/start.ts) wires it: a fresh
 * embedded PostgreSQL; ONE web process (`scripts/web-server.ts`, Next.js: pages and the JSON API)
 * on an internal port, `HMS_LISTEN_HOST=127.0.0.1`, trusting one proxy hop more than configured;
 * and N data-plane processes (`scripts/gateway-server.ts`: the gateway, the queue calls, and a
 * pass-through of everything else to the web process), each on its own free port, all against
 * the same database. The data-plane replicas share the one web process (`npm start` runs one
 * pair; a second web process would only add Next.js's memory and start-up to every bench and
 * change nothing the gateway rows measure). Every process is `node --import tsx <script>` — what
 * the `tsx` CLI runs, without its wrapper process — so each pid is the server itself (CPU and RSS
 * sampling, SIGTERM, SIGKILL reach it directly).
 *
 * A client of `baseUrl` sees what a client of `npm start` sees: the gateway and the queues
 * answered by the data plane, pages and the API through its pass-through into the web process.
 */
export interface BenchReplica {
  /** the data-plane process's URL (the public port) */
  baseUrl: string;
  /** the data-plane process: what the gateway rows measure as the proxy */
  pid: number;
  /** the web process behind it (shared by all replicas) */
  webPid: number;
  /** the data plane's stdout + stderr (the JSON process log), when `logDir` was given */
  logFile: string | null;
  /** the data plane's gateway access log (`HMS_ACCESS_LOG_FILE`), when `logDir` was given */
  accessLogFile: string | null;
}

export interface BenchSystem {
  /** the first replica's data plane */
  baseUrl: string;
  /** the first replica's data-plane process */
  serverPid: number;
  /** the web process (Next.js), straight, without the data plane in front */
  webUrl: string;
  webPid: number;
  replicas: BenchReplica[];
  db: EphemeralDb;
  stop(): Promise<void>;
}

export interface BenchSystemOptions {
  /** data-plane processes against the same database, in front of the one web process (default 1) */
  replicas?: number;
  /**
   * write each process's stdout and stderr to `<logDir>/web.log` and `<logDir>/data-plane-<n>.log`,
   * and each data plane's access log to `<logDir>/access-<n>.log` (default: discarded)
   */
  logDir?: string;
}

const BENCH_SECRET = "bench-secret-bench-secret-bench-secret";

/**
 * Builds the web app when the build is missing or stale, into `HMS_NEXT_DIST_DIR` (default
 * `.next`; a separate one keeps a bench from rebuilding under a server someone else runs). A
 * build into another dist dir makes Next.js add that dir's types to tsconfig.json; that edit is
 * put back, so a bench leaves the tree as it found it.
 */
function buildIfStale(root: string): void {
  const distDir = process.env.HMS_NEXT_DIST_DIR || ".next";
  if (!buildIsStale(root, distDir)) return;
  console.error(`[bench] building the web app into ${distDir}…`);
  const tsconfig = path.join(root, "tsconfig.json");
  const before = readFileSync(tsconfig, "utf8");
  // The build's output goes to stderr: stdout carries the benchmark's Markdown.
  const r = spawnSync(process.execPath, [path.join(root, "node_modules/next/dist/bin/next"), "build"], {
    stdio: ["ignore", 2, 2],
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
  });
  if (readFileSync(tsconfig, "utf8") !== before) writeFileSync(tsconfig, before);
  if (r.status !== 0) throw new Error("build failed");
}

export async function startBenchSystem(
  env: Record<string, string> = {},
  opts: BenchSystemOptions = {},
): Promise<BenchSystem> {
  const root = process.cwd();
  buildIfStale(root);
  const db = await startEphemeralDatabase();
  const p = new pg.Pool({ connectionString: db.appUrl, max: 2, options: "-c app.tenant_id=*" }); // seeding: all tenants
  await seedDemo(p, "demo-pass");
  await p.end();

  const children: ChildProcess[] = [];
  const stop = async () => {
    // Data planes first (their access logs flush), then the web process.
    for (const group of [children.slice(1), children.slice(0, 1)]) {
      await Promise.all(
        group.map(async (c) => {
          if (c.exitCode !== null || c.signalCode !== null) return;
          const exited = new Promise((r) => c.once("exit", r));
          c.kill("SIGTERM");
          const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
          await exited;
          clearTimeout(t);
        }),
      );
    }
    await db.stop();
  };
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: db.appUrl,
    NEXTAUTH_SECRET: BENCH_SECRET,
    HMS_LOG_LEVEL: "silent",
    HMS_DB_POOL_SIZE: "20",
    ...env,
  };
  const ports = new Set<number>();
  const port = async () => {
    let n = await freePort();
    while (ports.has(n)) n = await freePort();
    ports.add(n);
    return n;
  };
  const launch = (script: string, logName: string, extra: Record<string, string>) => {
    const logFile = opts.logDir ? path.join(opts.logDir, logName) : null;
    const out = logFile ? openSync(logFile, "a") : "ignore";
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, script)], {
      cwd: root,
      env: { ...base, ...extra },
      stdio: ["ignore", out, out],
    });
    if (typeof out === "number") closeSync(out);
    children.push(child);
    return { child, logFile };
  };
  const waitFor = async (url: string, child: ChildProcess, name: string) => {
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(url);
        await r.arrayBuffer();
        if (r.ok) return;
      } catch {
        /* starting */
      }
      if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}`);
      if (i > 480) throw new Error(`${name} did not start in 120 s`);
      await new Promise((res) => setTimeout(res, 250));
    }
  };

  const replicas: BenchReplica[] = [];
  let webUrl = "";
  let webPid = 0;
  try {
    // The web process, as npm start runs it: internal port, loopback only, one more trusted hop.
    const webPort = await port();
    const web = launch("scripts/web-server.ts", "web.log", {
      PORT: String(webPort),
      HMS_LISTEN_HOST: "127.0.0.1",
      HMS_TRUSTED_PROXY_HOPS: String(Number(base.HMS_TRUSTED_PROXY_HOPS ?? 0) + 1),
      HMS_REPLICA_ID: "bench-web",
    });
    webUrl = `http://127.0.0.1:${webPort}`;
    webPid = web.child.pid!;
    await waitFor(`${webUrl}/.well-known/jwks.json`, web.child, "web process");

    for (let n = 0; n < (opts.replicas ?? 1); n++) {
      const dpPort = await port();
      const accessLogFile = opts.logDir ? path.join(opts.logDir, `access-${n}.log`) : null;
      const dp = launch("scripts/gateway-server.ts", `data-plane-${n}.log`, {
        PORT: String(dpPort),
        HMS_LISTEN_HOST: "127.0.0.1",
        HMS_WEB_URL: webUrl,
        HMS_REPLICA_ID: `bench-dp-${n}`,
        ...(accessLogFile && !env.HMS_ACCESS_LOG_FILE ? { HMS_ACCESS_LOG_FILE: accessLogFile } : {}),
      });
      replicas.push({
        baseUrl: `http://127.0.0.1:${dpPort}`,
        pid: dp.child.pid!,
        webPid,
        logFile: dp.logFile,
        accessLogFile: env.HMS_ACCESS_LOG_FILE ?? accessLogFile,
      });
    }
    // Each data plane is up when its pass-through reaches the web process.
    await Promise.all(
      replicas.map((r, n) => waitFor(`${r.baseUrl}/.well-known/jwks.json`, children[n + 1]!, `data plane ${n}`)),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseUrl: replicas[0]!.baseUrl, serverPid: replicas[0]!.pid, webUrl, webPid, replicas, db, stop };
}

/** Resident set size of a process in bytes (Linux /proc). */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : 0;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Runs `total` jobs with at most `concurrency` in flight; returns per-job latencies (ms). */
export async function runConcurrent(total: number, concurrency: number, job: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await job(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - started) / 1000 };
}
