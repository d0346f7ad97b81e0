import { describe, expect, it } from "vitest";
import { Breaker, DEFAULT_BREAKER_SETTINGS, type SharedBreakerState } from "../circuit/breaker";
import { pickInstance } from "./balancer";
import type { RuntimeInstance } from "./routing-table";

const T0 = 1_000_000;
let n = 0;

function instance(over: Partial<RuntimeInstance> = {}, breaker?: Partial<SharedBreakerState>): RuntimeInstance {
  const b = new Breaker({ ...DEFAULT_BREAKER_SETTINGS, halfOpenCalls: 1 }, T0);
  if (breaker) {
    b.adopt({
      state: "open",
      forced: null,
      since: T0,
      openUntil: T0 + 30_000,
      tripStreak: 1,
      lastTripAt: T0,
      reason: "5 consecutive failures",
      version: 1,
      ...breaker,
    });
  }
  const id = `i${n++}`;
  return {
    id,
    serviceId: "s",
    tenantId: "t",
    url: `http://127.0.0.1:1/${id}`,
    target: { protocol: "http:", hostname: "127.0.0.1", port: 1, basePath: "" },
    region: "primary",
    weight: 1,
    enabled: true,
    status: "green",
    breaker: b,
    outstanding: 0,
    currentWeight: 0,
    lastUsedAt: 0,
    ...over,
  };
}

const service = (instances: RuntimeInstance[]) => ({ instances });

const now = T0 + 1_000;

describe("pickInstance: panic routing", () => {
  it("routes by breakers while any instance passes its breaker, never in panic", () => {
    const open = instance({}, {});
    const ok = instance({ status: "unknown" });
    const p = pickInstance(service([open, ok]), now);
    expect(p).toMatchObject({ instance: { id: ok.id }, panic: false, trial: false });
  });

  it("sends to a health-green instance whose breaker is open, as a plain call, and says why", () => {
    const open = instance({}, {});
    const p = pickInstance(service([open]), now);
    expect(p).toMatchObject({ instance: { id: open.id }, panic: true, trial: false });
    expect(p!.failover.reason).toMatch(/^panic routing: /);
    expect(open.breaker.state).toBe("open");
  });

  it("makes an extra trial of a half-open breaker whose trial slots are taken", () => {
    const half = instance({}, { openUntil: T0 });
    const first = pickInstance(service([half]), now)!;
    expect(first).toMatchObject({ trial: true, panic: false });
    half.breaker.startTrial();
    const second = pickInstance(service([half]), now)!;
    expect(second).toMatchObject({ instance: { id: half.id }, trial: true, panic: true });
  });

  it("never panic-routes to a forced-open, red, yellow, unknown or drained instance", () => {
    for (const inst of [
      instance({}, { forced: "open", openUntil: null }),
      instance({ status: "red" }, {}),
      instance({ status: "yellow" }, {}),
      instance({ status: "unknown" }, {}),
      instance({ enabled: false }, {}),
    ]) {
      expect(pickInstance(service([inst]), now)).toBeNull();
    }
  });

  it("skips instances already tried, and prefers the primary region", () => {
    const a = instance({}, {});
    const b = instance({ region: "secondary" }, {});
    const svc = service([b, a]);
    expect(pickInstance(svc, now)).toMatchObject({ instance: { id: a.id }, failover: { failover: false } });
    expect(pickInstance(svc, now, new Set([a.id]))).toMatchObject({
      instance: { id: b.id },
      panic: true,
      failover: { activeRegion: "secondary", failover: true },
    });
    expect(pickInstance(svc, now, new Set([a.id, b.id]))).toBeNull();
  });
});
