import { describe, expect, it } from "vitest";
import { failureKind, hasIdempotencyKey, mayRetry, type RetryFacts } from "./retry-policy";

const facts = (over: Partial<RetryFacts>): RetryFacts => ({
  method: "GET",
  idempotencyKey: false,
  failure: "maybe_received",
  answered: false,
  replayable: true,
  ...over,
});

describe("failureKind", () => {
  it("knows the failures where nothing was sent", () => {
    for (const code of [
      "ECONNREFUSED",
      "ENOTFOUND",
      "EAI_AGAIN",
      "dns_resolution_failed",
      "ssrf_private",
      "url_invalid",
    ]) {
      expect(failureKind(code)).toBe("not_sent");
    }
  });

  it("treats resets, hang-ups and unknown errors as possibly received, and keeps timeouts apart", () => {
    for (const code of ["ECONNRESET", "EPIPE", "upstream_reset", "error", "ETIMEDOUT"]) {
      expect(failureKind(code)).toBe("maybe_received");
    }
    expect(failureKind("timeout")).toBe("timeout");
  });
});

describe("mayRetry", () => {
  it.each(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "get", "delete"])(
    "retries %s after the upstream may have received it",
    (method) => expect(mayRetry(facts({ method }))).toBe(true),
  );

  it.each(["POST", "PATCH", "CONNECT", "PROPFIND"])(
    "does not retry %s after the upstream may have received it",
    (method) => expect(mayRetry(facts({ method }))).toBe(false),
  );

  it("retries any method carrying Idempotency-Key", () => {
    expect(mayRetry(facts({ method: "POST", idempotencyKey: true }))).toBe(true);
    expect(mayRetry(facts({ method: "PATCH", idempotencyKey: true }))).toBe(true);
  });

  it("retries any method when nothing was sent", () => {
    expect(mayRetry(facts({ method: "POST", failure: "not_sent" }))).toBe(true);
    expect(mayRetry(facts({ method: "PATCH", failure: "not_sent" }))).toBe(true);
  });

  it("never retries a timeout, an answered call, or a body it cannot send again", () => {
    expect(mayRetry(facts({ failure: "timeout" }))).toBe(false);
    expect(mayRetry(facts({ method: "POST", idempotencyKey: true, failure: "timeout" }))).toBe(false);
    expect(mayRetry(facts({ answered: true }))).toBe(false);
    expect(mayRetry(facts({ failure: "not_sent", answered: true }))).toBe(false);
    expect(mayRetry(facts({ failure: "not_sent", replayable: false }))).toBe(false);
    expect(mayRetry(facts({ method: "PUT", replayable: false }))).toBe(false);
  });
});

describe("hasIdempotencyKey", () => {
  it("finds the header in any case, and ignores an empty one", () => {
    expect(hasIdempotencyKey(["Host", "x", "Idempotency-Key", "abc"])).toBe(true);
    expect(hasIdempotencyKey(["idempotency-key", "abc"])).toBe(true);
    expect(hasIdempotencyKey(["Idempotency-Key", "  "])).toBe(false);
    expect(hasIdempotencyKey(["Host", "idempotency-key"])).toBe(false);
  });
});
