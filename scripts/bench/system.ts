import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import path from "node:path";
import pg from "pg";
import { startEphemeralDatabase, type EphemeralDb } from "../../lib/db/ephemeral";
import { freePort } from "../../lib/db/free-port";
import { seedDemo } from "../../lib/db/seed-demo";
import { buildIsStale } from "../../lib/system/build-freshness";

/** The real system for benchmarks: a fresh embedded PostgreSQL and `next start` on a free port. */
export interface BenchSystem {
  baseUrl: string;
  serverPid: number;
  db: EphemeralDb;
  stop(): Promise<void>;
}

export async function startBenchSystem(env: Record<string, string> = {}): Promise<BenchSystem> {
  const root = process.cwd();
  if (buildIsStale(root, ".next")) {
    console.error("[bench] building the web app…");
    const r = spawnSync(process.execPath, [path.join(root, "node_modules/next/dist/bin/next"), "build"], {
      stdio: "inherit",
    });
    if (r.status !== 0) throw new Error("build failed");
  }
  const db = await startEphemeralDatabase();
  const p = new pg.Pool({ connectionString: db.appUrl, max: 2 });
  await seedDemo(p, "demo-pass");
  await p.end();
  const port = await freePort();
  const server: ChildProcess = spawn(
    process.execPath,
    [path.join(root, "node_modules/next/dist/bin/next"), "start", "-p", String(port)],
    {
      env: {
        ...process.env,
        DATABASE_URL: db.appUrl,
        NEXTAUTH_SECRET: "bench-secret-bench-secret-bench-secret",
        HMS_LOG_LEVEL: "silent",
        HMS_DB_POOL_SIZE: "20",
        ...env,
      },
      stdio: "ignore",
    },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${baseUrl}/.well-known/jwks.json`)).ok) break;
    } catch {
      /* starting */
    }
    if (i > 240) throw new Error("server did not start");
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    baseUrl,
    serverPid: server.pid!,
    db,
    stop: async () => {
      server.kill("SIGTERM");
      await new Promise((r) => server.once("exit", r));
      await db.stop();
    },
  };
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
