import { describe, expect, it } from "vitest";
import { formatWaiting, stuckClaimsSchema } from "./stuck-claims-queries";

describe("stuck claims in the browser", () => {
  it("says how long a claim has waited in minutes, hours or days", () => {
    expect(formatWaiting(45)).toBe("45 min");
    expect(formatWaiting(60)).toBe("1 h");
    expect(formatWaiting(185)).toBe("3 h 5 min");
    expect(formatWaiting(48 * 60)).toBe("2 d");
    expect(formatWaiting(52 * 60 + 10)).toBe("2 d 4 h");
  });

  it("reads the watchdog's answer, reviewer included or absent", () => {
    const base = {
      items: [{ claim_id: "CLM-1", tenant: "agency-a", status: "QUEUED", waitingMinutes: 31, updated_at: "x" }],
      total: 1,
      threshold: 30,
    };
    expect(stuckClaimsSchema.safeParse({ ...base, reviewer: null }).success).toBe(true);
    const reviewer = {
      service: "claim-review",
      tenant: "agency-a",
      status: "red",
      statusReason: null,
      statusChangedAt: null,
      maintenance: false,
      instances: { total: 2, enabled: 2, healthy: 0 },
      circuits: { open: 1, halfOpen: 0, forced: 0 },
      breaker: "open",
      queue: {
        queue: "claim-review",
        depth: 3,
        delayed: 0,
        inFlight: 0,
        dead: 1,
        doneLastHour: 0,
        oldestReadyAgeSeconds: 1900,
        lastLeaseAt: null,
        maxAttempts: 5,
        visibilitySeconds: 30,
      },
      consumerLastSeenAt: null,
    };
    const parsed = stuckClaimsSchema.parse({ ...base, reviewer });
    expect(parsed.reviewer?.breaker).toBe("open");
  });
});
