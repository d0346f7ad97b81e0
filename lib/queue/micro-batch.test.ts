import { describe, expect, it } from "vitest";
import { MicroBatcher } from "./micro-batch";

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("MicroBatcher", () => {
  it("runs a lone call at once, and groups calls that arrive while maxInFlight batches run", async () => {
    const batches: number[][] = [];
    const gates: (() => void)[] = [];
    const b = new MicroBatcher<number, number>(
      async (items) => {
        batches.push(items);
        await new Promise<void>((r) => gates.push(r));
        return items.map((i) => i * 10);
      },
      { maxInFlight: 1, maxBatch: 3 },
    );
    const first = b.submit(1);
    expect(batches).toEqual([[1]]);
    const rest = [2, 3, 4, 5].map((i) => b.submit(i));
    expect(batches).toEqual([[1]]);
    gates.shift()!();
    expect(await first).toBe(10);
    await tick();
    expect(batches).toEqual([[1], [2, 3, 4]]);
    gates.shift()!();
    await tick();
    expect(batches).toEqual([[1], [2, 3, 4], [5]]);
    gates.shift()!();
    expect(await Promise.all(rest)).toEqual([20, 30, 40, 50]);
    expect(b.stats).toEqual({ batches: 3, items: 5 });
  });

  it("rejects one item for its own Error, and every item of a batch whose run throws", async () => {
    let fail = false;
    const b = new MicroBatcher<number, string>(
      async (items) => {
        if (fail) throw new Error("database down");
        return items.map((i) => (i < 0 ? new Error(`bad ${i}`) : `ok ${i}`));
      },
      { maxInFlight: 2, maxBatch: 10 },
    );
    await expect(b.submit(1)).resolves.toBe("ok 1");
    await expect(b.submit(-1)).rejects.toThrow("bad -1");
    fail = true;
    const all = await Promise.allSettled([b.submit(2), b.submit(3)]);
    expect(all.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  });
});
