import { describe, expect, it } from "vitest";
import type { ClaimDetail } from "../queries/claims";
import { applyStatusEvent, snapshotEventSchema, statusEventSchema } from "./use-claim-live";

const claim: ClaimDetail = {
  claim_id: "CLM-7",
  status: "QUEUED",
  createdAt: "2026-11-27T10:00:00.000Z",
  updatedAt: "2026-11-27T10:00:00.000Z",
  document: { sizeBytes: 10, sha256: "ab", pageCount: 1, url: "/api/v1/claims/CLM-7/document" },
  timeline: [{ status: "QUEUED", at: "2026-11-27T10:00:00.000Z", note: null, actor: "vet-a" }],
};

describe("applying a live status event to the cached claim", () => {
  it("moves the status and appends the timeline entry", () => {
    const e = {
      claim_id: "CLM-7",
      id: "42",
      status: "IN_REVIEW",
      at: "2026-11-27T10:01:00.000Z",
      actor: "service:claim-review",
    };
    const next = applyStatusEvent(claim, e);
    expect(next.status).toBe("IN_REVIEW");
    expect(next.updatedAt).toBe(e.at);
    expect(next.timeline).toHaveLength(2);
    expect(next.timeline[1]).toMatchObject({
      id: "42",
      status: "IN_REVIEW",
      note: null,
      actor: "service:claim-review",
    });
    expect(claim.timeline).toHaveLength(1); // the old cache value is not mutated
  });

  it("does not add an entry twice (same id, or same status and time from a polled copy)", () => {
    const e = { claim_id: "CLM-7", id: "42", status: "IN_REVIEW", at: "2026-11-27T10:01:00.000Z" };
    const once = applyStatusEvent(claim, e);
    expect(applyStatusEvent(once, e).timeline).toHaveLength(2);
    const polled = { ...claim, timeline: [...claim.timeline, { status: "IN_REVIEW", at: e.at }] };
    expect(applyStatusEvent(polled, e).timeline).toHaveLength(2);
  });

  it("reads the server's event shapes", () => {
    expect(
      statusEventSchema.safeParse({ claim_id: "CLM-7", id: "1", status: "DECIDED", at: "x", note: null, actor: "a" })
        .success,
    ).toBe(true);
    expect(snapshotEventSchema.safeParse({ ...claim, timeline: [{ ...claim.timeline[0], id: "1" }] }).success).toBe(
      true,
    );
    expect(snapshotEventSchema.safeParse(claim).success).toBe(false); // snapshot entries carry ids
  });
});
