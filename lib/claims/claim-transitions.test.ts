import { describe, expect, it } from "vitest";
import { AppError } from "../http/app-error";
import { allowedNext, claimStatuses, planTransition, statusChangeBody, type ClaimStatus } from "./claim-transitions";

function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("the claim lifecycle table", () => {
  const allowed: [ClaimStatus, ClaimStatus][] = [
    ["QUEUED", "IN_REVIEW"],
    ["IN_REVIEW", "DECIDED"],
    ["IN_REVIEW", "NEEDS_INFO"],
    ["NEEDS_INFO", "IN_REVIEW"],
  ];

  it("allows exactly QUEUED→IN_REVIEW, IN_REVIEW→DECIDED|NEEDS_INFO and NEEDS_INFO→IN_REVIEW", () => {
    for (const from of claimStatuses) {
      for (const to of claimStatuses) {
        if (from === to) continue;
        const ok = allowed.some(([f, t]) => f === from && t === to);
        if (ok) expect(planTransition(from, to), `${from}→${to}`).toBe("change");
        else expect(() => planTransition(from, to), `${from}→${to}`).toThrow(AppError);
      }
    }
  });

  it("treats a move to the status the claim already has as a no-op, final status included", () => {
    for (const s of claimStatuses) expect(planTransition(s, s)).toBe("noop");
  });

  it("refuses an invalid move with 409 claim_transition_invalid naming the states that may follow", () => {
    const e = refusal(() => planTransition("QUEUED", "DECIDED"));
    expect(e.code).toBe("claim_transition_invalid");
    expect(e.status).toBe(409);
    expect(e.detail).toContain("IN_REVIEW");
    expect(e.extra).toEqual({ currentStatus: "QUEUED", allowed: ["IN_REVIEW"] });
  });

  it("says a decided claim is final", () => {
    expect(allowedNext("DECIDED")).toEqual([]);
    const e = refusal(() => planTransition("DECIDED", "IN_REVIEW"));
    expect(e.detail).toMatch(/final/);
    expect(e.extra).toMatchObject({ currentStatus: "DECIDED", allowed: [] });
  });

  it("refuses an allowed move whose precondition does not hold, but not a repeat of the same move", () => {
    // A late duplicate must not pull a claim that reached NEEDS_INFO back into review.
    const e = refusal(() => planTransition("NEEDS_INFO", "IN_REVIEW", ["QUEUED"]));
    expect(e.code).toBe("claim_transition_invalid");
    expect(e.extra).toMatchObject({ currentStatus: "NEEDS_INFO" });
    expect(planTransition("QUEUED", "IN_REVIEW", ["QUEUED"])).toBe("change");
    expect(planTransition("IN_REVIEW", "IN_REVIEW", ["QUEUED"])).toBe("noop");
  });
});

describe("the status change body", () => {
  it("accepts the three target statuses with an optional note and precondition", () => {
    expect(statusChangeBody.parse({ status: "DECIDED", note: "granted", from: ["IN_REVIEW"] })).toEqual({
      status: "DECIDED",
      note: "granted",
      from: ["IN_REVIEW"],
    });
  });

  it("refuses QUEUED as a target, unknown statuses and unknown fields", () => {
    expect(statusChangeBody.safeParse({ status: "QUEUED" }).success).toBe(false);
    expect(statusChangeBody.safeParse({ status: "APPROVED" }).success).toBe(false);
    expect(statusChangeBody.safeParse({ status: "DECIDED", tenant_id: "x" }).success).toBe(false);
    expect(statusChangeBody.safeParse({ status: "DECIDED", note: "x".repeat(2001) }).success).toBe(false);
  });
});
