import { encode } from "next-auth/jwt";
import { describe, expect, it } from "vitest";
import { AppError } from "./app-error";
import { authenticateRequest } from "./authenticate";
import { createUser } from "../testing/fixtures";

const req = (headers: Record<string, string>) => new Request("http://localhost/api/v1/claims", { headers });

describe("authenticateRequest", () => {
  it("accepts the browser's next-auth session cookie as the same principal a bearer token gives", async () => {
    const vet = await createUser("veteran", "agency-a");
    const session = await encode({
      token: { name: vet.username, uid: vet.userId, role: "veteran", tenantId: "agency-a" },
      secret: process.env.NEXTAUTH_SECRET!,
    });
    const fromCookie = await authenticateRequest(req({ cookie: `other=1; next-auth.session-token=${session}` }));
    const fromBearer = await authenticateRequest(req({ authorization: `Bearer ${vet.token}` }));
    expect(fromCookie).toEqual(fromBearer);
  });

  it("accepts a session cookie that next-auth split into chunks", async () => {
    const vet = await createUser("veteran", "agency-a");
    const session = await encode({
      token: { name: vet.username, uid: vet.userId, role: "veteran", tenantId: "agency-a", padding: "x".repeat(5000) },
      secret: process.env.NEXTAUTH_SECRET!,
    });
    const half = Math.ceil(session.length / 2);
    const cookie = `next-auth.session-token.0=${session.slice(0, half)}; next-auth.session-token.1=${session.slice(half)}`;
    expect(await authenticateRequest(req({ cookie }))).toMatchObject({ userId: vet.userId, role: "veteran" });
  });

  it("refuses a session cookie sealed with another secret, and no credentials at all, as token_missing", async () => {
    const forged = await encode({
      token: { name: "x", uid: "00000000-0000-0000-0000-000000000000", role: "admin", tenantId: null },
      secret: "some-other-secret-some-other-secret-1234",
    });
    const cases: Record<string, string>[] = [{ cookie: `next-auth.session-token=${forged}` }, {}];
    for (const headers of cases) {
      const err = await authenticateRequest(req(headers)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("token_missing");
    }
  });

  it("refuses a cookie-authenticated write from another origin (or none), but not a bearer one", async () => {
    const vet = await createUser("veteran", "agency-a");
    const session = await encode({
      token: { name: vet.username, uid: vet.userId, role: "veteran", tenantId: "agency-a" },
      secret: process.env.NEXTAUTH_SECRET!,
    });
    const write = (headers: Record<string, string>) =>
      authenticateRequest(new Request("http://hms.example/api/v1/claims", { method: "POST", headers }));
    const cookie = `next-auth.session-token=${session}`;
    for (const origin of [undefined, "https://evil.example", "http://sub.hms.example"]) {
      const err = await write({ cookie, host: "hms.example", ...(origin ? { origin } : {}) }).catch((e: unknown) => e);
      expect((err as AppError).code).toBe("origin_forbidden");
    }
    await expect(write({ cookie, host: "hms.example", origin: "http://hms.example" })).resolves.toMatchObject({
      userId: vet.userId,
    });
    await expect(write({ authorization: `Bearer ${vet.token}`, host: "hms.example" })).resolves.toMatchObject({
      userId: vet.userId,
    });
  });

  it("prefers an Authorization header and refuses a non-Bearer scheme as token_malformed", async () => {
    const err = await authenticateRequest(req({ authorization: "Basic abc" })).catch((e: unknown) => e);
    expect((err as AppError).code).toBe("token_malformed");
  });
});
