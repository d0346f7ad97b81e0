/**
 * Load generator for the gateway benchmark. It always runs in a child process of its own
 * (`runLoad` / `startLoad` spawn `node --import tsx scripts/bench/load.ts <spec>`), so it never
 * shares an event loop with an upstream, a proxy or the benchmark's bookkeeping. Two kinds:
 *
 * - **closed**: fixed concurrency, as fast as the target answers — autocannon (`connections`,
 *   `pipelining: 1`, keep-alive), after a warm-up run whose figures are dropped. autocannon's own
 *   latency histogram has 1 ms resolution, so every response's exact time is collected from its
 *   `response` event instead.
 * - **paced**: open-loop fixed rate — request k is sent at start + k / rate (1 ms timer, however
 *   long earlier answers take; no coordinated omission), over a keep-alive node:http agent,
 *   spread over one or more targets by share. autocannon's own rate limit sends each second's
 *   requests in a burst at the top of the second, which is not a fixed rate. Optionally returns
 *   every request (send time, latency, status, `x-hms-region`, `x-hms-failover`) for timelines.
 *
 * - **burst**: `count` requests all at once — every socket is connected first (one per request,
 *   spread over the targets by share), then all the requests are written in one turn of the
 *   event loop, each over its own pre-connected socket (node:http with `createConnection`). For
 *   rate limits: how many of a simultaneous burst are admitted.
 *
 * Latency percentiles are over 2xx answers; non-2xx answers and errors are counted separately.
 * The child prints `started <epoch ms>` when the measured part begins and the result as one JSON
 * line at the end.
 */
import { spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

export interface ClosedSpec {
  kind: "closed";
  url: string;
  headers?: Record<string, string>;
  connections: number;
  warmupSeconds: number;
  seconds: number;
}

export interface PacedSpec {
  kind: "paced";
  /** where requests go; `share` weights them (smooth weighted round-robin, exact proportions) */
  targets: { url: string; share: number }[];
  headers?: Record<string, string>;
  rate: number;
  /** sent at the same rate before the measured part, not counted */
  warmupSeconds?: number;
  seconds: number;
  /** return every measured request */
  records?: boolean;
  timeoutMs?: number;
  /** the agent's socket cap per target (default 256) */
  maxSockets?: number;
}

export interface BurstSpec {
  kind: "burst";
  /** where requests go; `share` weights them as for paced runs */
  targets: { url: string; share: number }[];
  headers?: Record<string, string>;
  /** requests (and sockets) in the burst */
  count: number;
  timeoutMs?: number;
}

export type LoadSpec = ClosedSpec | PacedSpec | BurstSpec;

/** One request of a paced run (`records: true`). */
export interface LoadRecord {
  /** send time, epoch ms */
  t: number;
  /** latency ms (to the end of the body, or to the error) */
  ms: number;
  /** status, 0 on error */
  s: number;
  /** x-hms-region of the answer ("" if none) */
  r: string;
  /** x-hms-failover was set */
  f: boolean;
  /** error code (no answer) */
  e?: string;
  /** target index */
  i: number;
}

export interface TargetCounts {
  url: string;
  requests: number;
  ok: number;
  byStatus: Record<string, number>;
  errors: number;
}

export interface LoadResult {
  kind: LoadSpec["kind"];
  /** answered or failed requests in the measured part */
  requests: number;
  /** 2xx answers */
  ok: number;
  byStatus: Record<string, number>;
  errors: number;
  seconds: number;
  /** 2xx answers per second */
  okPerSec: number;
  p50ms: number;
  p90ms: number;
  p99ms: number;
  maxMs: number;
  meanMs: number;
  /** the load generator's own CPU over the measured part, % of one core */
  cpuPercent: number;
  /** burst: from the first request written to the last answer, ms */
  spanMs?: number;
  /** paced: how late sends left against their schedule, p99 (the generator's own accuracy) */
  sendLagP99Ms?: number;
  perTarget?: TargetCounts[];
  records?: LoadRecord[];
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function summarize(latencies: number[]) {
  const sorted = Float64Array.from(latencies).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50ms: percentile(sorted, 50),
    p90ms: percentile(sorted, 90),
    p99ms: percentile(sorted, 99),
    maxMs: sorted.length ? sorted[sorted.length - 1]! : NaN,
    meanMs: sorted.length ? sum / sorted.length : NaN,
  };
}

const cpuPercent = (u: NodeJS.CpuUsage, seconds: number) => ((u.user + u.system) / 1e6 / seconds) * 100;

const bump = (m: Record<string, number>, k: string | number) => (m[k] = (m[k] ?? 0) + 1);

// --- parent side --------------------------------------------------------------------------------

const self = fileURLToPath(import.meta.url);

export interface RunningLoad {
  pid: number;
  /** epoch ms at which the measured part began */
  started: Promise<number>;
  done: Promise<LoadResult>;
  kill(): void;
}

/** Starts a load run in its own process. */
export function startLoad(spec: LoadSpec): RunningLoad {
  const child = spawn(process.execPath, ["--import", "tsx", self, JSON.stringify(spec)], {
    cwd: path.resolve(path.dirname(self), "../.."),
    stdio: ["ignore", "pipe", "inherit"],
  });
  let onStarted!: (t: number) => void;
  const started = new Promise<number>((r) => (onStarted = r));
  let last = "";
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const m = /^started (\d+)$/.exec(line);
    if (m) onStarted(Number(m[1]));
    else if (line.trim()) last = line;
  });
  const done = new Promise<LoadResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`load generator exited ${code}`));
      try {
        resolve(JSON.parse(last) as LoadResult);
      } catch {
        reject(new Error(`load generator printed no result: ${last.slice(0, 200)}`));
      }
    });
  });
  return { pid: child.pid!, started, done, kill: () => child.kill("SIGKILL") };
}

export const runLoad = (spec: LoadSpec): Promise<LoadResult> => startLoad(spec).done;

// --- child side ---------------------------------------------------------------------------------

async function closedLoad(spec: ClosedSpec): Promise<LoadResult> {
  const { default: autocannon } = await import("autocannon");
  const run = (seconds: number, measure: boolean) =>
    new Promise<{
      latencies: number[];
      byStatus: Record<string, number>;
      errors: number;
      seconds: number;
      cpuPercent: number;
    }>((resolve, reject) => {
      const latencies: number[] = [];
      const byStatus: Record<string, number> = {};
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      if (measure) console.log(`started ${Date.now()}`);
      const instance = autocannon(
        { url: spec.url, headers: spec.headers, connections: spec.connections, pipelining: 1, duration: seconds },
        (err, result) => {
          if (err) return reject(err instanceof Error ? err : new Error(String(err)));
          const seconds = (performance.now() - t0) / 1000;
          const cpu = process.cpuUsage(cpu0);
          resolve({ latencies, byStatus, errors: result.errors, seconds, cpuPercent: cpuPercent(cpu, seconds) });
        },
      );
      instance.on("response", (_client, status, _bytes, ms) => {
        bump(byStatus, status);
        if (status >= 200 && status < 300) latencies.push(ms);
      });
    });
  await run(spec.warmupSeconds, false);
  const r = await run(spec.seconds, true);
  const ok = r.latencies.length;
  const answered = Object.values(r.byStatus).reduce((a, b) => a + b, 0);
  return {
    kind: "closed",
    requests: answered + r.errors,
    ok,
    byStatus: r.byStatus,
    errors: r.errors,
    seconds: r.seconds,
    okPerSec: ok / r.seconds,
    ...summarize(r.latencies),
    cpuPercent: r.cpuPercent,
  };
}

async function pacedLoad(spec: PacedSpec): Promise<LoadResult> {
  const targets = spec.targets.map((t) => {
    const u = new URL(t.url);
    return {
      url: t.url,
      share: t.share,
      credit: 0,
      opts: { host: u.hostname, port: Number(u.port || 80), path: u.pathname + u.search },
      agent: new http.Agent({ keepAlive: true, maxSockets: spec.maxSockets ?? 256 }),
      counts: { url: t.url, requests: 0, ok: 0, byStatus: {}, errors: 0 } as TargetCounts,
    };
  });
  const shareSum = targets.reduce((a, t) => a + t.share, 0);
  const pick = () => {
    let best = targets[0]!;
    for (const t of targets) {
      t.credit += t.share;
      if (t.credit > best.credit) best = t;
    }
    best.credit -= shareSum;
    return best;
  };

  const interval = 1000 / spec.rate;
  const warm = Math.round((spec.warmupSeconds ?? 0) * spec.rate);
  const total = warm + Math.round(spec.seconds * spec.rate);
  const latencies: number[] = [];
  const lags: number[] = [];
  const byStatus: Record<string, number> = {};
  const records: LoadRecord[] = [];
  let errors = 0;
  let outstanding = 0;
  let sent = 0;
  const t0 = performance.now();
  const epoch0 = Date.now();
  let cpu0 = process.cpuUsage();
  let measuredAt = t0;

  return new Promise<LoadResult>((resolve) => {
    const finishIfDone = () => {
      if (sent < total || outstanding > 0) return;
      const ok = latencies.length;
      const seconds = spec.seconds;
      resolve({
        kind: "paced",
        requests: total - warm,
        ok,
        byStatus,
        errors,
        seconds,
        okPerSec: ok / seconds,
        ...summarize(latencies),
        cpuPercent: cpuPercent(process.cpuUsage(cpu0), (performance.now() - measuredAt) / 1000),
        sendLagP99Ms: percentile(Float64Array.from(lags).sort(), 99),
        perTarget: targets.map((t) => t.counts),
        records: spec.records ? records.sort((a, b) => a.t - b.t) : undefined,
      });
    };

    const send = (k: number, scheduled: number) => {
      const target = pick();
      const measured = k >= warm;
      const sentAt = performance.now();
      if (measured) {
        lags.push(sentAt - scheduled);
        target.counts.requests++;
      }
      outstanding++;
      let settled = false;
      const settle = (status: number, res: http.IncomingMessage | null, err?: string) => {
        if (settled) return;
        settled = true;
        outstanding--;
        const ms = performance.now() - sentAt;
        if (measured) {
          if (status === 0) {
            errors++;
            target.counts.errors++;
          } else {
            bump(byStatus, status);
            bump(target.counts.byStatus, status);
            if (status >= 200 && status < 300) {
              latencies.push(ms);
              target.counts.ok++;
            }
          }
          if (spec.records) {
            records.push({
              t: epoch0 + (sentAt - t0),
              ms,
              s: status,
              r: String(res?.headers["x-hms-region"] ?? ""),
              f: res?.headers["x-hms-failover"] !== undefined,
              e: err,
              i: targets.indexOf(target),
            });
          }
        }
        finishIfDone();
      };
      const req = http.request(
        {
          ...target.opts,
          method: "GET",
          agent: target.agent,
          headers: spec.headers,
          timeout: spec.timeoutMs ?? 10_000,
        },
        (res) => {
          res.on("data", () => {});
          res.on("end", () => settle(res.statusCode ?? 0, res));
          res.on("error", () => settle(0, null, "response_error"));
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })));
      req.on("error", (e: NodeJS.ErrnoException) => settle(0, null, e.code ?? "error"));
      req.end();
    };

    const tick = () => {
      const now = performance.now();
      while (sent < total && t0 + sent * interval <= now) {
        if (sent === warm) {
          cpu0 = process.cpuUsage();
          measuredAt = performance.now();
          console.log(`started ${Date.now()}`);
        }
        send(sent, t0 + sent * interval);
        sent++;
      }
      if (sent < total) setTimeout(tick, 1);
      else finishIfDone();
    };
    tick();
  });
}

/** Smooth weighted round-robin over targets by share: exact proportions. */
function weightedPicker<T extends { share: number }>(targets: T[]): () => T {
  const credit = targets.map(() => 0);
  const sum = targets.reduce((a, t) => a + t.share, 0);
  return () => {
    let best = 0;
    for (let i = 0; i < targets.length; i++) {
      credit[i]! += targets[i]!.share;
      if (credit[i]! > credit[best]!) best = i;
    }
    credit[best]! -= sum;
    return targets[best]!;
  };
}

async function burstLoad(spec: BurstSpec): Promise<LoadResult> {
  const targets = spec.targets.map((t) => {
    const u = new URL(t.url);
    return {
      share: t.share,
      host: u.hostname,
      port: Number(u.port || 80),
      path: u.pathname + u.search,
      counts: { url: t.url, requests: 0, ok: 0, byStatus: {}, errors: 0 } as TargetCounts,
    };
  });
  const pick = weightedPicker(targets);
  const plan = Array.from({ length: spec.count }, () => pick());
  // 1. Every socket connected before any request is written.
  const sockets = await Promise.all(
    plan.map(
      (t) =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect({ host: t.host, port: t.port }, () => resolve(s));
          s.setNoDelay(true);
          s.once("error", reject);
        }),
    ),
  );
  // 2. All the requests in one turn of the event loop.
  const latencies: number[] = [];
  const byStatus: Record<string, number> = {};
  let errors = 0;
  let lastAnswer = 0;
  const cpu0 = process.cpuUsage();
  console.log(`started ${Date.now()}`);
  const t0 = performance.now();
  await Promise.all(
    plan.map(
      (t, i) =>
        new Promise<void>((resolve) => {
          const socket = sockets[i]!;
          socket.removeAllListeners("error");
          t.counts.requests++;
          const settle = (status: number) => {
            lastAnswer = Math.max(lastAnswer, performance.now());
            if (status === 0) {
              errors++;
              t.counts.errors++;
            } else {
              bump(byStatus, status);
              bump(t.counts.byStatus, status);
              if (status >= 200 && status < 300) {
                latencies.push(performance.now() - t0);
                t.counts.ok++;
              }
            }
            socket.destroy();
            resolve();
          };
          const req = http.request(
            {
              host: t.host,
              port: t.port,
              path: t.path,
              method: "GET",
              headers: spec.headers,
              // no agent: node:http then writes on the socket createConnection returns
              createConnection: () => socket,
              timeout: spec.timeoutMs ?? 30_000,
            },
            (res) => {
              res.on("data", () => {});
              res.on("end", () => settle(res.statusCode ?? 0));
              res.on("error", () => settle(0));
            },
          );
          req.on("timeout", () => req.destroy(new Error("timeout")));
          req.on("error", () => settle(0));
          req.end();
        }),
    ),
  );
  const spanMs = lastAnswer - t0;
  const ok = latencies.length;
  return {
    kind: "burst",
    requests: spec.count,
    ok,
    byStatus,
    errors,
    seconds: spanMs / 1000,
    okPerSec: ok / (spanMs / 1000),
    ...summarize(latencies),
    cpuPercent: cpuPercent(process.cpuUsage(cpu0), spanMs / 1000),
    spanMs,
    perTarget: targets.map((t) => t.counts),
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "") as LoadSpec;
  const result =
    spec.kind === "closed"
      ? await closedLoad(spec)
      : spec.kind === "paced"
        ? await pacedLoad(spec)
        : await burstLoad(spec);
  process.stdout.write(`\n${JSON.stringify(result)}\n`, () => process.exit(0));
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
