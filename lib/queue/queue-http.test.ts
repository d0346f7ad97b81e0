import { describe, expect, it } from "vitest";
import { matchQueueRoute } from "./queue-http";
import { serialisePayload } from "./queue-schema";
import { keyOfPayload } from "./queue-wakeups";

describe("matchQueueRoute", () => {
  it("recognises the four data-plane POST paths", () => {
    expect(matchQueueRoute("POST", "/api/v1/queues/claim-review/messages")).toEqual({
      action: "send",
      queue: "claim-review",
      id: null,
    });
    expect(matchQueueRoute("POST", "/api/v1/queues/q/lease?x=1")).toEqual({ action: "lease", queue: "q", id: null });
    expect(matchQueueRoute("POST", "/api/v1/queues/q/messages/abc/ack")).toEqual({
      action: "ack",
      queue: "q",
      id: "abc",
    });
    expect(matchQueueRoute("POST", "/api/v1/queues/q/messages/abc/nack")).toEqual({
      action: "nack",
      queue: "q",
      id: "abc",
    });
  });

  it("leaves operator endpoints, other methods and odd paths to Next.js", () => {
    for (const [method, url] of [
      ["GET", "/api/v1/queues"],
      ["GET", "/api/v1/queues/q/dead"],
      ["POST", "/api/v1/queues/q/messages/abc/requeue"],
      ["DELETE", "/api/v1/queues/q/messages/abc"],
      ["GET", "/api/v1/queues/q/lease"],
      ["POST", "/api/v1/queues/q/lease/"],
      ["POST", "/api/v1/queues/q/messages/"],
      ["POST", "/api/v1/queues/"],
      ["POST", "/api/v1/gw/q/lease"],
      ["POST", "/api/v1/queues/%E0%A4%A/lease"],
    ] as const) {
      expect(matchQueueRoute(method, url), `${method} ${url}`).toBeNull();
    }
  });
});

describe("keyOfPayload", () => {
  it("reads <tenant>/<queue> and intake's JSON form, and ignores anything else", () => {
    expect(keyOfPayload("agency-a/claim-review")).toBe("agency-a/claim-review");
    expect(keyOfPayload(JSON.stringify({ tenant: "agency-a", queue: "claim-review" }))).toBe("agency-a/claim-review");
    expect(keyOfPayload("no-slash")).toBeNull();
    expect(keyOfPayload("/q")).toBeNull();
    expect(keyOfPayload("{broken")).toBeNull();
    expect(keyOfPayload(undefined)).toBeNull();
  });
});

describe("serialisePayload", () => {
  it("allows 256 KiB of UTF-8 and refuses one byte more with 413", () => {
    const overhead = JSON.stringify({ s: "" }).length;
    expect(() => serialisePayload({ s: "x".repeat(256 * 1024 - overhead) })).not.toThrow();
    expect(() => serialisePayload({ s: "x".repeat(256 * 1024 - overhead + 1) })).toThrow(
      expect.objectContaining({ code: "payload_too_large", status: 413 }),
    );
    // Multi-byte characters count as their UTF-8 bytes.
    expect(() => serialisePayload({ s: "é".repeat(131_072) })).toThrow(expect.objectContaining({ status: 413 }));
  });
});
