import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { startEphemeralDatabase, type EphemeralDb } from "../../lib/db/ephemeral";
import { freePort } from "../../lib/db/free-port";
import { seedDemo } from "../../lib/db/seed-demo";
import { buildIsStale } from "../../lib/system/build-freshness";

/**
 * The real system for benchmarks: a fresh embedded PostgreSQL and N replicas of the web process
 * (`scripts/web-server.ts`: Next.js plus the gateway's data plane on one port), each on its own
 * free port, all against the same database. Each replica is `node --import tsx
 * scripts/web-server.ts` — what the `tsx` CLI runs, without its wrapper process — so `pid` is
 * the web process itself (RSS sampling, SIGTERM, SIGKILL reach it directly).
 */
export interface BenchReplica {
  baseUrl: string;
  pid: number;
  /** the replica's stdout + stderr (the JSON logs), when `logDir` was given */
  logFile: string | null;
}

export interface BenchSystem {
  /** the first replica */
  baseUrl: string;
  serverPid: number;
  replicas: BenchReplica[];
  db: EphemeralDb;
  stop(): Promise<void>;
}

export interface BenchSystemOptions {
  /** web processes against the same database (default 1) */
  replicas?: number;
  /** write each replica's stdout and stderr to `<logDir>/web-<n>.log` (default: discarded) */
  logDir?: string;
}

export async function startBenchSystem(
  env: Record<string, string> = {},
  opts: BenchSystemOptions = {},
): Promise<BenchSystem> {
  const root = process.cwd();
  if (buildIsStale(root, ".next")) {
    console.error("[bench] building the web app…");
    // The build's output goes to stderr: stdout carries the benchmark's Markdown.
    const r = spawnSync(process.execPath, [path.join(root, "node_modules/next/dist/bin/next"), "build"], {
      stdio: ["ignore", 2, 2],
    });
    if (r.status !== 0) throw new Error("build failed");
  }
  const db = await startEphemeralDatabase();
  const p = new pg.Pool({ connectionString: db.appUrl, max: 2, options: "-c app.tenant_id=*" }); // seeding: all tenants
  await seedDemo(p, "demo-pass");
  await p.end();

  const children: ChildProcess[] = [];
  const replicas: BenchReplica[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((r) => c.once("exit", r));
        c.kill("SIGTERM");
        const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(t);
      }),
    );
    await db.stop();
  };
  try {
    const ports = new Set<number>();
    for (let n = 0; n < (opts.replicas ?? 1); n++) {
      let port = await freePort();
      while (ports.has(port)) port = await freePort();
      ports.add(port);
      const logFile = opts.logDir ? path.join(opts.logDir, `web-${n}.log`) : null;
      const out = logFile ? openSync(logFile, "a") : "ignore";
      const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "scripts/web-server.ts")], {
        cwd: root,
        env: {
          ...process.env,
          DATABASE_URL: db.appUrl,
          NEXTAUTH_SECRET: "bench-secret-bench-secret-bench-secret",
          HMS_LOG_LEVEL: "silent",
          HMS_DB_POOL_SIZE: "20",
          HMS_REPLICA_ID: `bench-web-${n}`,
          ...env,
          PORT: String(port),
        },
        stdio: ["ignore", out, out],
      });
      if (typeof out === "number") closeSync(out);
      children.push(child);
      replicas.push({ baseUrl: `http://127.0.0.1:${port}`, pid: child.pid!, logFile });
    }
    await Promise.all(
      replicas.map(async (r, n) => {
        for (let i = 0; ; i++) {
          try {
            if ((await fetch(`${r.baseUrl}/.well-known/jwks.json`)).ok) return;
          } catch {
            /* starting */
          }
          if (children[n]!.exitCode !== null) throw new Error(`web replica ${n} exited ${children[n]!.exitCode}`);
          if (i > 240) throw new Error(`web replica ${n} did not start`);
          await new Promise((res) => setTimeout(res, 250));
        }
      }),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseUrl: replicas[0]!.baseUrl, serverPid: replicas[0]!.pid, replicas, db, stop };
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
