import { randomBytes } from "node:crypto";
import { getEventListeners } from "node:events";
import { afterAll, describe, expect, it } from "vitest";
import { systemPool } from "../db/pool";
import { runLoops, type LoopSpec } from "./loop";

/**
 * The worker's loops share one long-lived AbortSignal for their whole life. Each pause between two
 * runs waits on it; a pause that leaves its listener behind adds one per run, for ever (memory
 * growth, and Node's MaxListenersExceededWarning after a few minutes of probing).
 */
const workerId = `loop-test-${randomBytes(4).toString("hex")}`;

afterAll(async () => {
  await systemPool().query(`DELETE FROM worker_heartbeats WHERE worker_id = $1`, [workerId]);
});

describe("runLoops", () => {
  it("leaves no abort listeners behind between runs, however many runs share one signal", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const ac = new AbortController(); // Node's default limit: a warning past 10 listeners
      const seen: number[] = [];
      const RUNS = 60;
      const loops: LoopSpec[] = ["a", "b"].map((name) => ({
        name: `${workerId}-${name}`,
        everyMs: 1,
        handler: async (signal) => {
          seen.push(getEventListeners(signal, "abort").length);
          if (seen.length >= RUNS) ac.abort();
        },
      }));
      await runLoops(systemPool(), workerId, loops, ac.signal);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(seen.length).toBeGreaterThanOrEqual(RUNS);
      // at most the other loop's pending pause: 1, never growing with the number of runs
      expect(Math.max(...seen)).toBeLessThanOrEqual(loops.length - 1);
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("still wakes a pausing loop at once when the signal aborts", async () => {
    const ac = new AbortController();
    let runs = 0;
    const started = Date.now();
    const done = runLoops(
      systemPool(),
      workerId,
      [{ name: `${workerId}-slow`, everyMs: 60_000, handler: async () => void runs++ }],
      ac.signal,
    );
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    await done;
    expect(runs).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
