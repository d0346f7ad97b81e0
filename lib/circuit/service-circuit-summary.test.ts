import { describe, expect, it } from "vitest";
import { serviceCircuitSummary, type InstanceBreaker } from "./service-circuit-summary";

const inst = (
  id: string,
  region: string,
  circuit: InstanceBreaker["circuit"],
  more: Partial<InstanceBreaker> = {},
) => ({
  id,
  region,
  enabled: true,
  status: "green",
  circuit,
  forced: false,
  ...more,
});

describe("serviceCircuitSummary", () => {
  it("says nothing about a service whose breakers are all closed in the primary region", () => {
    expect(serviceCircuitSummary([inst("a", "primary", "closed"), inst("b", "secondary", "closed")])).toEqual({
      circuits: { open: 0, halfOpen: 0, forced: 0 },
      failover: false,
      activeRegion: "primary",
      failoverReason: null,
    });
  });

  it("counts open, half-open and forced breakers (a forced-open breaker is open and forced)", () => {
    const s = serviceCircuitSummary([
      inst("a", "primary", "open", { forced: true }),
      inst("b", "primary", "half_open"),
      inst("c", "primary", "closed", { forced: true }),
      inst("d", "primary", "closed"),
      inst("e", "primary", "open", { enabled: false }),
    ]);
    expect(s.circuits).toEqual({ open: 2, halfOpen: 1, forced: 2 });
  });

  it("reports the gateway's failover when every primary breaker is open", () => {
    const s = serviceCircuitSummary([
      inst("a", "primary", "open"),
      inst("b", "primary", "open"),
      inst("c", "secondary", "closed"),
    ]);
    expect(s).toMatchObject({ failover: true, activeRegion: "secondary", circuits: { open: 2 } });
    expect(s.failoverReason).toMatch(/secondary/);
  });

  it("has no active region when nothing can serve, and no failover reason then", () => {
    const s = serviceCircuitSummary([inst("a", "primary", "open")]);
    expect(s).toMatchObject({ failover: false, activeRegion: null, failoverReason: null });
    expect(serviceCircuitSummary([])).toMatchObject({ failover: false, activeRegion: null });
  });
});
