import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { auditKeyId, keyRing, keyRingFrom, parsePreviousKeys } from "./keys";

const K1 = "a".repeat(32);
const K2 = "b".repeat(40);

describe("audit keys", () => {
  const saved = { key: process.env.HMS_AUDIT_KEY, prev: process.env.HMS_AUDIT_PREVIOUS_KEYS };
  afterEach(() => {
    process.env.HMS_AUDIT_KEY = saved.key;
    process.env.HMS_AUDIT_PREVIOUS_KEYS = saved.prev;
    if (saved.key === undefined) delete process.env.HMS_AUDIT_KEY;
    if (saved.prev === undefined) delete process.env.HMS_AUDIT_PREVIOUS_KEYS;
  });

  it("names a key by the first 16 hex digits of its SHA-256, never by the key itself", () => {
    expect(auditKeyId(K1)).toBe(createHash("sha256").update(K1).digest("hex").slice(0, 16));
    expect(auditKeyId(K1)).not.toBe(auditKeyId(K2));
  });

  it("seals with the current key and knows the previous ones for verification", () => {
    const ring = keyRingFrom(K2, [K1]);
    expect(ring.current.id).toBe(auditKeyId(K2));
    expect([...ring.byId.keys()].sort()).toEqual([auditKeyId(K1), auditKeyId(K2)].sort());
    expect(ring.byId.get(auditKeyId(K1))!.secret.toString()).toBe(K1);
  });

  it("refuses keys shorter than 32 characters", () => {
    expect(() => keyRingFrom("short")).toThrow(/at least 32/);
    expect(() => keyRingFrom(K1, ["short"])).toThrow(/at least 32/);
  });

  it("reads HMS_AUDIT_KEY and the comma-separated HMS_AUDIT_PREVIOUS_KEYS", () => {
    process.env.HMS_AUDIT_KEY = K2;
    process.env.HMS_AUDIT_PREVIOUS_KEYS = ` ${K1} ,, `;
    const ring = keyRing();
    expect(ring.current.id).toBe(auditKeyId(K2));
    expect(ring.byId.has(auditKeyId(K1))).toBe(true);
    expect(parsePreviousKeys(undefined)).toEqual([]);
  });

  it("fails loudly when HMS_AUDIT_KEY is not set", () => {
    delete process.env.HMS_AUDIT_KEY;
    expect(() => keyRing()).toThrow(/HMS_AUDIT_KEY/);
  });
});
