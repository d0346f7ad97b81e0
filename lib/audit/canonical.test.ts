import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { GENESIS_HASH, canonicalEvent, chainHash, chainOf, copyText, type CanonicalFields } from "./canonical";

const base: CanonicalFields = {
  id: "42",
  tenantId: "agency-a",
  actor: "operator-a",
  action: "circuit.force",
  target: "instance:1",
  outcome: "success",
  traceId: "0af7651916cd43dd8448eb211c80319c",
  ip: "10.0.0.7",
  atMs: "1764201600123",
  data: '{"to": "open", "from": "closed"}',
};

describe("canonicalEvent", () => {
  it("is the COPY text line of version 1 and the columns in a fixed order", () => {
    expect(canonicalEvent(base)).toBe(
      [
        "1",
        "42",
        "agency-a",
        "operator-a",
        "circuit.force",
        "instance:1",
        "success",
        "0af7651916cd43dd8448eb211c80319c",
        "10.0.0.7",
        "1764201600123",
        '{"to": "open", "from": "closed"}',
      ].join("\t"),
    );
  });

  it("writes NULL as \\N and escapes backslash and the control characters COPY escapes", () => {
    expect(copyText(null)).toBe("\\N");
    expect(copyText("\\N")).toBe("\\\\N");
    expect(copyText("a\tb\nc\rd\\e\bf\fg\vh")).toBe("a\\tb\\nc\\rd\\\\e\\bf\\fg\\vh");
    // Other characters pass through unchanged, multi-byte ones included.
    expect(copyText("é😀|,\"'\u0001")).toBe("é😀|,\"'\u0001");
  });

  it("cannot be made ambiguous by moving a separator from one field into the next", () => {
    const a = canonicalEvent({ ...base, actor: "alice\tregistry", action: "x" });
    const b = canonicalEvent({ ...base, actor: "alice", action: "registry\tx" });
    expect(a).not.toBe(b);
    expect(canonicalEvent({ ...base, target: null })).not.toBe(canonicalEvent({ ...base, target: "\\N" }));
  });

  it("changes when any field changes", () => {
    const original = canonicalEvent(base);
    for (const k of Object.keys(base) as (keyof CanonicalFields)[]) {
      expect(canonicalEvent({ ...base, [k]: `${base[k]}x` }), k).not.toBe(original);
    }
  });
});

describe("chainHash", () => {
  const key = Buffer.from("k".repeat(40));

  it("is HMAC-SHA256(key, prevHash || canonical) in lower-case hex", () => {
    const c = canonicalEvent(base);
    const expected = createHmac("sha256", key)
      .update(GENESIS_HASH + c)
      .digest("hex");
    expect(chainHash(key, GENESIS_HASH, c)).toBe(expected);
    expect(chainHash(key, GENESIS_HASH, Buffer.from(c))).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{64}$/);
  });

  it("depends on the key, the previous hash and the event", () => {
    const c = canonicalEvent(base);
    const h = chainHash(key, GENESIS_HASH, c);
    expect(chainHash(Buffer.from("j".repeat(40)), GENESIS_HASH, c)).not.toBe(h);
    expect(chainHash(key, "1".repeat(64), c)).not.toBe(h);
    expect(chainHash(key, GENESIS_HASH, canonicalEvent({ ...base, outcome: "failure" }))).not.toBe(h);
  });

  it("starts every chain from 64 zeros", () => {
    expect(GENESIS_HASH).toBe("0".repeat(64));
  });
});

describe("chainOf", () => {
  it("is the tenant id, or the empty string for events without a tenant", () => {
    expect(chainOf("agency-a")).toBe("agency-a");
    expect(chainOf(null)).toBe("");
  });
});
