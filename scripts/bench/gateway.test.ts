import { describe, expect, it } from "vitest";
import { formatGateway, goalsOf, type BurstRow, type GatewayBenchResult } from "./gateway";

const quiet = { otherCpuPct: 0, tries: 1 };
const burst = (limit: number, processes: number, admitted: number, spanMs = 200): BurstRow => {
  const allowedMax = limit + (limit * spanMs) / 1000;
  return {
    ...quiet,
    label: "400 at once",
    limit: { rps: limit, burst: limit },
    processes,
    count: 400,
    admitted,
    admittedPerProcess: [admitted],
    refused429: 400 - admitted,
    otherFailures: 0,
    spanMs,
    allowedMax,
    overAdmissionPct: ((admitted - allowedMax) / allowedMax) * 100,
  };
};
const paced = (key: "direct" | "bare" | "ours", p50ms: number, p99ms: number) => ({
  ...quiet,
  key,
  target: key,
  rate: 300,
  ok: 3000,
  requests: 3000,
  p50ms,
  p90ms: p50ms,
  p99ms,
  sendLagP99Ms: 1,
});

/** A run that meets every goal; tests change one figure at a time. */
function passingRun(): Omit<GatewayBenchResult, "goals"> {
  const bRun = { ...quiet, p50ms: 2, p99ms: 6, dataPlaneCpuPct: 20, ok: 1000, requests: 1000 };
  return {
    quick: true,
    settings: {} as GatewayBenchResult["settings"],
    loadAvg1: 0.1,
    nginx: { version: "nginx/1.22.1" },
    throughput: [],
    ratios: [10, 50].map((c) => ({
      concurrency: c,
      oursToBare: 0.6,
      oursToNginx: 0.3,
      oursToDirect: 0.15,
      nginxToBare: 2,
      cpuUsPerReq: { bare: 200, nginx: 40, nginxLogged: 45, ours: 350 },
    })),
    paced: [paced("direct", 0.8, 2.5), paced("bare", 1.3, 4.5), paced("ours", 1.6, 6)],
    added: {
      oursMinusBare: { p50ms: 0.3, p90ms: 0.7, p99ms: 1.5 },
      oursMinusDirect: { p50ms: 0.8, p90ms: 1.5, p99ms: 3.5 },
      nginxMinusDirect: null,
      bareMinusDirect: { p50ms: 0.5, p90ms: 0.8, p99ms: 2 },
    },
    failover: {
      ...quiet,
      rate: 50,
      killAfterMs: 5000,
      windowS: 10,
      breakerOpenMs: 120,
      tripAtMs: 95,
      tripReason: "5 consecutive failures",
      firstSecondaryAnswerMs: 30,
      firstFailoverHeaderMs: 95,
      windowRequests: 500,
      windowFailed: 0,
      windowFailedPct: 0,
      failedStatuses: {},
      primaryAnswersAfterOpen: 0,
      secondaryShareAfterOpenPct: 100,
    },
    noisy: {
      bRate: 100,
      aRate: 500,
      aLimit: { rps: 50, burst: 50 },
      seconds: 10,
      alone: [bRun, bRun, bRun],
      noisy: [{ ...bRun, p99ms: 7, aSentPerSec: 500, aAdmittedPerSec: 50, a429: 6750, aOther: 0 }],
      aloneP99: { min: 6, max: 6, median: 6 },
      noisyP99Median: 7,
      ratio: 7 / 6,
      worstRatio: 7 / 6,
    },
    bursts: [burst(1000, 1, 400), burst(50, 1, 50), burst(50, 2, 58)],
    sustained: [
      {
        ...quiet,
        split: "50 % / 50 %",
        rate: 300,
        sent: 3000,
        seconds: 10,
        admitted: 1095,
        admittedPerProcess: [550, 545],
        allowedMax: 1100,
        overAdmissionPct: -0.5,
        rejected429: 1905,
        otherFailures: 0,
      },
    ],
    accessLog: { lines: 10, gatewayLines: 10, bytes: 1000 },
  };
}

const unmet = (r: Omit<GatewayBenchResult, "goals">) =>
  goalsOf(r)
    .filter((g) => !g.met)
    .map((g) => g.goal);

describe("gateway bench goals", () => {
  it("are all met by figures within every goal", () => {
    const goals = goalsOf(passingRun());
    expect(goals.length).toBe(11);
    expect(goals.filter((g) => !g.met)).toEqual([]);
  });

  it("are judged from the figures: each figure past its goal fails that goal alone", () => {
    const slow = passingRun();
    slow.added.oursMinusBare.p99ms = 5.2;
    expect(unmet(slow)).toEqual(["added p99 ≤ +5 ms"]);

    const noisy = passingRun();
    noisy.noisy.ratio = 1.3;
    expect(unmet(noisy)).toEqual(["noisy neighbour p99 ≤ ×1.25 of alone"]);

    const refusing = passingRun();
    refusing.bursts[0] = burst(1000, 1, 399);
    expect(unmet(refusing)).toEqual(["400 at once under 1000/1000: 0 refused"]);

    const stingy = passingRun();
    stingy.bursts[1] = burst(50, 1, 44);
    expect(unmet(stingy)).toEqual(["400 at once under 50/50: 45–55 admitted"]);

    const generous = passingRun();
    generous.bursts[2] = burst(50, 2, 70); // allowed 60
    expect(unmet(generous)).toEqual(["400 at once under 50/50 over 2 data planes: over-admission ≤ 5 %"]);

    const failing = passingRun();
    failing.failover.windowFailed = 1;
    failing.failover.firstSecondaryAnswerMs = null;
    expect(unmet(failing)).toEqual([
      "failover: first answer from the secondary ≤ 1 s after the kill",
      "failover: 0 failed GETs",
    ]);
  });

  it("prints the count of goals met in the Markdown", () => {
    const r = passingRun();
    r.ratios[1]!.oursToBare = 0.45;
    expect(formatGateway({ ...r, goals: [] })).toContain("**Goals: 10 of 11 met.**");
  });
});
