import { describe, expect, it } from "vitest";
import { isDemoMode, loadEnv } from "./env";

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

  it("turns demo mode on by default and off in production unless HMS_DEMO=1", () => {
    expect(isDemoMode(loadEnv(base))).toBe(true);
    expect(isDemoMode(loadEnv({ ...base, NODE_ENV: "production" }))).toBe(false);
    expect(isDemoMode(loadEnv({ ...base, NODE_ENV: "production", HMS_DEMO: "1" }))).toBe(true);
  });
});
