/**
 * CPU accounting from /proc for benchmarks on this shared host: a process's ticks, a process tree's
 * ticks, the whole machine's busy/total ticks, and a wait for a quiet machine before a measured row.
 */
import { readdir, readFile } from "node:fs/promises";

export const CLK_TCK = 100;
/** Before each measured row: wait (at most QUIET_WAIT_MS) until the machine is this idle. */
export const QUIET_PCT = 15;
export const QUIET_WAIT_MS = 60_000;

/** utime + stime of one process (NaN when it is gone). */
export async function procTicks(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]); // utime + stime, after "(comm)": fields 14 and 15
  } catch {
    return NaN;
  }
}

/** The whole machine's busy and total ticks (busy = all but idle and iowait). */
export async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - v[3]! - v[4]!, total }; // idle + iowait
}

/**
 * CPU ticks of `root` and all its descendants (servers, PostgreSQL, clients), exited ones
 * included through their parents' cutime/cstime — to tell what the benchmark used from what
 * other processes on this shared host took meanwhile.
 */
export async function treeTicks(root: number): Promise<number> {
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = await readFile(`/proc/${e}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // state ppid … utime(11) stime(12) cutime(13) cstime(14)
      procs.set(Number(e), {
        ppid: Number(f[1]),
        ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
      });
    } catch {
      /* gone */
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  let sum = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    sum += procs.get(pid)?.ticks ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return sum;
}

/** The children of a process (Linux /proc; empty when it is gone). */
export async function childPids(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8");
    return text.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Waits until the whole machine is at most QUIET_PCT busy over one second (or `maxWaitMs`, default
 * QUIET_WAIT_MS, have passed); returns the last second's busy %.
 */
export async function quietMachine(maxWaitMs = QUIET_WAIT_MS): Promise<number> {
  const until = Date.now() + maxWaitMs;
  for (;;) {
    const a = await machineTicks();
    await new Promise((r) => setTimeout(r, 1_000));
    const b = await machineTicks();
    const busy = ((b.busy - a.busy) / (b.total - a.total)) * 100;
    if (busy <= QUIET_PCT || Date.now() >= until) return busy;
  }
}
