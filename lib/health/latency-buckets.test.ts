import { describe, expect, it } from "vitest";
import {
  BUCKET_COUNT,
  bucketIndex,
  histogramOf,
  LATENCY_BOUNDS_MS,
  percentileFromBuckets,
  sumBucketsSql,
} from "./latency-buckets";

describe("latency buckets", () => {
  it("has ten buckets ending open-ended", () => {
    expect(LATENCY_BOUNDS_MS).toEqual([10, 25, 50, 100, 250, 500, 1000, 2500, 5000, Infinity]);
    expect(BUCKET_COUNT).toBe(10);
  });

  it("puts a latency in the first bucket whose upper bound it does not exceed", () => {
    expect([0, 10, 11, 25, 26, 100, 101, 999, 1000, 1001, 5000, 5001, 1e9].map(bucketIndex)).toEqual([
      0, 0, 1, 1, 2, 3, 4, 6, 6, 7, 8, 9, 9,
    ]);
    expect(bucketIndex(-5)).toBe(0);
    expect(bucketIndex(Number.NaN)).toBe(0);
    expect(bucketIndex(Infinity)).toBe(9);
  });

  it("builds a zero-filled histogram with one count", () => {
    expect(histogramOf(30)).toEqual([0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(histogramOf(null)).toEqual(new Array(10).fill(0));
  });

  it("estimates percentiles by interpolating inside the bucket", () => {
    // 100 checks between 100 and 250 ms: p95 is 95% of the way through that bucket
    const counts = [0, 0, 0, 0, 100, 0, 0, 0, 0, 0];
    expect(percentileFromBuckets(counts, 0.95)).toBe(243);
    expect(percentileFromBuckets(counts, 0.5)).toBe(175);
    // 95 fast, 5 slow: p95 is at the top of the fast bucket; p99 lands in the slow one
    const mixed = [95, 0, 0, 0, 0, 0, 0, 5, 0, 0];
    expect(percentileFromBuckets(mixed, 0.95)).toBe(10);
    expect(percentileFromBuckets(mixed, 0.99)).toBe(2200);
  });

  it("caps the estimate at the largest latency seen, and uses it for the open-ended bucket", () => {
    expect(percentileFromBuckets([0, 0, 0, 0, 100, 0, 0, 0, 0, 0], 0.95, 180)).toBe(180);
    expect(percentileFromBuckets([0, 0, 0, 0, 0, 0, 0, 0, 0, 3], 0.95)).toBe(5000);
    expect(percentileFromBuckets([0, 0, 0, 0, 0, 0, 0, 0, 0, 3], 0.95, 9000)).toBe(9000);
  });

  it("answers null without data and tolerates null or short arrays", () => {
    expect(percentileFromBuckets([], 0.95)).toBeNull();
    expect(percentileFromBuckets(new Array(10).fill(0), 0.95)).toBeNull();
    expect(percentileFromBuckets([null, 4], 0.5)).toBe(18);
    expect(() => percentileFromBuckets([1], 0)).toThrow(RangeError);
  });

  it("generates the element-wise bucket sum for SQL", () => {
    expect(sumBucketsSql("r.latency_buckets")).toMatch(
      /^ARRAY\[coalesce\(sum\(r\.latency_buckets\[1\]\), 0\)::int, .*\[10\]\), 0\)::int\]$/,
    );
  });
});
