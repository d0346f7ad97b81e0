import { describe, expect, it } from "vitest";
import { makePdf } from "@/lib/documents/test-pdfs";
import { freePort } from "@/lib/db/free-port";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createUser } from "@/lib/testing/fixtures";
import { POST as postToken } from "../auth/token/route";
import { POST as postClaim } from "./route";

describe("with the database unreachable", () => {
  it("intake and login answer 503 problem+json with Retry-After, promptly and without a stack", async () => {
    const vet = await createUser("veteran", "agency-a"); // token signed while the database is up
    // Point this process's pool at a port nobody listens on.
    const g = globalThis as unknown as {
      hmsPool?: { end(): Promise<void> };
      hmsSystemPool?: { end(): Promise<void> };
      hmsPrisma?: unknown;
    };
    await g.hmsPool?.end();
    await g.hmsSystemPool?.end();
    g.hmsPool = undefined;
    g.hmsSystemPool = undefined;
    g.hmsPrisma = undefined;
    process.env.DATABASE_URL = `postgresql://nobody:x@127.0.0.1:${await freePort()}/none`;

    const started = Date.now();
    const res = await callRoute(postClaim, {
      method: "POST",
      path: "/claims",
      token: vet.token,
      headers: { "content-type": "application/pdf", "idempotency-key": "k1" },
      body: await makePdf(),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect((await problemOf(res)).code).toBe("dependency_unavailable");

    const login = await callRoute(postToken, {
      method: "POST",
      path: "/api/v1/auth/token",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "vet-a", password: "demo-pass" }),
    });
    expect(login.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
