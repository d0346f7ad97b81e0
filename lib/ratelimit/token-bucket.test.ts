import { describe, expect, it } from "vitest";
import {
  emptyMeter,
  fullBucket,
  leaseSize,
  meterRate,
  meterRecord,
  msUntilTokens,
  refill,
  tryTake,
  windowSeconds,
  type Bucket,
} from "./token-bucket";

const limit = { rps: 10, burst: 5 };

describe("refill", () => {
  it("adds rps tokens per elapsed second and stops at the burst", () => {
    const b: Bucket = { tokens: 0, at: 1_000 };
    expect(refill(b, limit, 1_100)).toEqual({ tokens: 1, at: 1_100 });
    expect(refill(b, limit, 1_250).tokens).toBeCloseTo(2.5);
    expect(refill(b, limit, 60_000)).toEqual({ tokens: 5, at: 60_000 });
  });

  it("never runs backwards: an earlier timestamp leaves the bucket unchanged", () => {
    const b: Bucket = { tokens: 2, at: 5_000 };
    expect(refill(b, limit, 4_000)).toBe(b);
  });
});

describe("tryTake", () => {
  it("admits the burst at once, then one request per 1/rps seconds", () => {
    let b = fullBucket(limit, 0);
    let admitted = 0;
    for (let i = 0; i < 8; i++) {
      const r = tryTake(b, limit, 0);
      b = r.bucket;
      if (r.taken) admitted++;
    }
    expect(admitted).toBe(5);
    expect(tryTake(b, limit, 99).taken).toBe(false);
    const at100 = tryTake(b, limit, 100);
    expect(at100.taken).toBe(true);
    expect(at100.bucket.tokens).toBeCloseTo(0);
    expect(tryTake(at100.bucket, limit, 150).taken).toBe(false);
  });

  it("admits rps × seconds + burst over a long run, no more", () => {
    let b = fullBucket(limit, 0);
    let admitted = 0;
    // one attempt per millisecond for 10 s: 10 × 10 + 5 = 105
    for (let t = 0; t <= 10_000; t++) {
      const r = tryTake(b, limit, t);
      b = r.bucket;
      if (r.taken) admitted++;
    }
    expect(admitted).toBe(105);
  });

  it("leaves a bucket without enough tokens refilled but not spent", () => {
    const r = tryTake({ tokens: 0.5, at: 0 }, limit, 0, 1);
    expect(r).toEqual({ bucket: { tokens: 0.5, at: 0 }, taken: false });
  });
});

describe("msUntilTokens", () => {
  it("is the time until the missing tokens have refilled", () => {
    expect(msUntilTokens(0.25, 1, 10)).toBeCloseTo(75);
    expect(msUntilTokens(0, 3, 2)).toBe(1_500);
    expect(msUntilTokens(4, 1, 2)).toBe(0);
  });
});

describe("windowSeconds", () => {
  it("is the time an empty bucket takes to fill, in whole seconds, at least 1", () => {
    expect(windowSeconds({ rps: 50, burst: 100 })).toBe(2);
    expect(windowSeconds({ rps: 3, burst: 10 })).toBe(4);
    expect(windowSeconds({ rps: 1000, burst: 10 })).toBe(1);
    expect(windowSeconds({ rps: 0.5, burst: 1 })).toBe(2);
  });
});

describe("leaseSize", () => {
  it("asks for about one window of recent demand", () => {
    expect(leaseSize({ demandRps: 200, windowMs: 100, burst: 1_000 })).toBe(20);
    expect(leaseSize({ demandRps: 15, windowMs: 100, burst: 1_000 })).toBe(2);
  });

  it("asks for at least 1 token, plus one for each waiting request", () => {
    expect(leaseSize({ demandRps: 0, windowMs: 100, burst: 1_000 })).toBe(1);
    expect(leaseSize({ demandRps: 10, windowMs: 100, burst: 1_000, waiting: 7 })).toBe(8);
    expect(leaseSize({ demandRps: 200, windowMs: 100, burst: 1_000, waiting: 400 })).toBe(420);
  });

  it("prefetches at most a quarter of the burst, but grows to the whole burst for that many waiters", () => {
    expect(leaseSize({ demandRps: 10_000, windowMs: 100, burst: 100 })).toBe(25);
    expect(leaseSize({ demandRps: 10_000, windowMs: 100, burst: 100, waiting: 60 })).toBe(85);
    expect(leaseSize({ demandRps: 10_000, windowMs: 100, burst: 100, waiting: 500 })).toBe(100);
    expect(leaseSize({ demandRps: 10_000, windowMs: 100, burst: 3 })).toBe(1);
    expect(leaseSize({ demandRps: 0, windowMs: 100, burst: 1, waiting: 5 })).toBe(1);
  });
});

describe("rate meter", () => {
  const tau = 1_000;

  it("converges to the event rate of a steady stream", () => {
    let m = emptyMeter(0);
    for (let t = 0; t <= 10_000; t += 20) m = meterRecord(m, t, tau); // 50 events per second
    expect(meterRate(m, 10_000, tau)).toBeGreaterThan(48);
    expect(meterRate(m, 10_000, tau)).toBeLessThan(52);
  });

  it("decays towards zero when the events stop", () => {
    let m = emptyMeter(0);
    for (let t = 0; t <= 5_000; t += 10) m = meterRecord(m, t, tau); // 100/s
    const atStop = meterRate(m, 5_000, tau);
    expect(meterRate(m, 6_000, tau)).toBeCloseTo(atStop / Math.E, 5);
    expect(meterRate(m, 15_000, tau)).toBeLessThan(0.01);
  });

  it("starts at zero", () => {
    expect(meterRate(emptyMeter(0), 500, tau)).toBe(0);
  });
});
