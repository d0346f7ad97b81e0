import { describe, expect, it } from "vitest";
import { AppError } from "../http/app-error";
import { parseIdempotencyKey, requestFingerprint } from "./idempotency-key";

describe("parseIdempotencyKey", () => {
  it("accepts the draft's quoted sf-string form and a bare token alike", () => {
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toBe("8e03978e-40d5-43e8-bc93-6894a57f9324");
    expect(parseIdempotencyKey("abc-123")).toBe("abc-123");
    expect(parseIdempotencyKey(null)).toBeNull();
  });

  it("refuses empty, over-long or non-ASCII keys with invalid_request", () => {
    for (const bad of ["", '""', "x".repeat(256), "clé", "a b"]) {
      expect(() => parseIdempotencyKey(bad)).toThrow(AppError);
    }
  });
});

describe("requestFingerprint", () => {
  it("differs when any part differs and is stable otherwise", () => {
    const a = requestFingerprint(["POST /claims", Buffer.from("x")]);
    expect(requestFingerprint(["POST /claims", Buffer.from("x")])).toBe(a);
    expect(requestFingerprint(["POST /claims", Buffer.from("y")])).not.toBe(a);
    expect(requestFingerprint(["POST /claim", Buffer.from("sx")])).not.toBe(a);
  });
});
