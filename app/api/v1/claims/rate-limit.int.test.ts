import { describe, expect, it } from "vitest";
import { POST as postClaimAlias } from "@/app/claims/route";
import type { Principal } from "@/lib/auth/principal";
import { systemPool } from "@/lib/db/pool";
import { makePdf } from "@/lib/documents/test-pdfs";
import { upsertLimit } from "@/lib/ratelimit/limits-repository";
import { rateLimiter } from "@/lib/ratelimit/shared-limiter";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createAgency } from "@/lib/testing/fixtures";
import { POST as postClaim } from "./route";

const admin: Principal = {
  userId: "00000000-0000-0000-0000-000000000000",
  username: "limits-test",
  role: "admin",
  tenantId: null,
};

async function claimsOf(tenantId: string): Promise<number> {
  const { rows } = await systemPool().query<{ n: number }>(
    `SELECT count(*)::int AS n FROM claims WHERE tenant_id = $1`,
    [tenantId],
  );
  return rows[0]!.n;
}

describe("POST /claims under the tenant's rate limit", () => {
  it("answers 429 with Retry-After and RateLimit headers once the limit is spent, without reading the body or storing anything", async () => {
    const agency = await createAgency();
    // One upload, then one token every 10 s: the second upload comes long before the next token, however slow the first.
    await upsertLimit(admin, agency.tenantId, { rps: 0.1, burst: 1 });
    await rateLimiter().refresh(); // this process's limiter has the new limit now, not after the NOTIFY lands
    const pdf = await makePdf();

    const first = await callRoute(postClaim, {
      method: "POST",
      path: "/api/v1/claims",
      token: agency.veteran.token,
      headers: { "content-type": "application/pdf" },
      body: pdf,
    });
    expect(first.status).toBe(201);
    expect(first.headers.get("ratelimit-policy")).toBe('"tenant";q=1;w=10');
    expect(first.headers.get("ratelimit")).toBe('"tenant";r=0;t=10');
    expect(first.headers.get("retry-after")).toBeNull();

    // The second upload streams its body; the stream records whether anyone read from it.
    let pulled = false;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          pulled = true;
          c.enqueue(pdf);
          c.close();
        },
      },
      { highWaterMark: 0 },
    );
    const second = await callRoute(postClaimAlias, {
      method: "POST",
      path: "/claims",
      token: agency.veteran.token,
      headers: { "content-type": "application/pdf" },
      body,
    });
    expect(second.status).toBe(429);
    expect(second.headers.get("content-type")).toBe("application/problem+json");
    const retryAfter = Number(second.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect(second.headers.get("ratelimit-policy")).toBe('"tenant";q=1;w=10');
    expect(second.headers.get("ratelimit")).toBe(`"tenant";r=0;t=${retryAfter}`);
    expect((await problemOf(second)).code).toBe("rate_limited");
    expect(pulled).toBe(false);
    expect(await claimsOf(agency.tenantId)).toBe(1);
  });

  it("adds no RateLimit headers for a tenant without a limit", async () => {
    const agency = await createAgency();
    const res = await callRoute(postClaim, {
      method: "POST",
      path: "/api/v1/claims",
      token: agency.veteran.token,
      headers: { "content-type": "application/pdf" },
      body: await makePdf(),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("ratelimit")).toBeNull();
    expect(res.headers.get("ratelimit-policy")).toBeNull();
  });
});
