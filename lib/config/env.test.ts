import { describe, expect, it } from "vitest";
import { isDemoMode, loadEnv, setting } from "./env";

const base = { DATABASE_URL: "postgresql://u:p@127.0.0.1:5432/hms" };

describe("loadEnv", () => {
  it("applies the documented defaults", () => {
    const e = loadEnv(base);
    expect(e).toMatchObject({ PORT: 3000, HMS_DEMO_PASSWORD: "demo-pass", HMS_MAX_UPLOAD_BYTES: 25 * 1024 * 1024 });
    expect(e.HMS_TOKEN_TTL_SECONDS).toBe(900);
  });

  it("refuses an upload limit above 100 MB and a missing database URL, naming the variable", () => {
    expect(() => loadEnv({ ...base, HMS_MAX_UPLOAD_BYTES: String(101 * 1024 * 1024) })).toThrow(/HMS_MAX_UPLOAD_BYTES/);
    expect(() => loadEnv({})).toThrow(/DATABASE_URL/);
  });

  it("turns demo mode on with the embedded database, off in production or on an external one, unless HMS_DEMO says", () => {
    const embedded = { embeddedDatabase: true };
    const external = { embeddedDatabase: false };
    expect(isDemoMode(loadEnv(base), embedded)).toBe(true);
    expect(isDemoMode(loadEnv(base), external)).toBe(false);
    expect(isDemoMode(loadEnv({ ...base, NODE_ENV: "production" }), embedded)).toBe(false);
    expect(isDemoMode(loadEnv({ ...base, NODE_ENV: "production", HMS_DEMO: "1" }), external)).toBe(true);
    expect(isDemoMode(loadEnv({ ...base, HMS_DEMO: "0" }), embedded)).toBe(false);
  });

  it("reads one setting at request time and reports a bad value as a configuration error", () => {
    process.env.HMS_MAX_UPLOAD_BYTES = "lots";
    try {
      expect(() => setting("HMS_MAX_UPLOAD_BYTES")).toThrow(/Invalid HMS_MAX_UPLOAD_BYTES/);
    } finally {
      delete process.env.HMS_MAX_UPLOAD_BYTES;
    }
    expect(setting("HMS_MAX_UPLOAD_BYTES")).toBe(25 * 1024 * 1024);
  });
});
