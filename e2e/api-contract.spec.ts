import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { makePdf } from "../lib/documents/test-pdfs";
import { getClaim, getToken, submitClaim } from "../lib/sdk/client";
import { demoPassword } from "./support/system";

/** The fixed HTTP contract over real HTTP against `npm start`, as an outside client sees it. */
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("curl flow: a token from /api/v1/auth/token uploads a PDF to POST /claims and reads it back", async ({
  request,
  baseURL,
}) => {
  const tokenRes = await request.post("/api/v1/auth/token", { data: { username: "vet-a", password: demoPassword } });
  expect(tokenRes.status()).toBe(200);
  const token = await tokenRes.json();
  expect(token).toMatchObject({ token_type: "Bearer", expires_in: expect.any(Number) });
  expect(Object.keys(token).sort()).toEqual(["access_token", "expires_in", "token_type"]);

  const pdf = await makePdf({ pages: 3 });
  const res = await request.post("/claims", {
    headers: { authorization: `Bearer ${token.access_token}`, "content-type": "application/pdf" },
    data: Buffer.from(pdf),
  });
  expect(res.status()).toBe(201);
  const created = await res.json();
  expect(created).toEqual({ claim_id: expect.stringMatching(/^CLM-\d+$/), status: "QUEUED" });
  expect(res.headers()["location"]).toBe(`/api/v1/claims/${created.claim_id}`);

  const claim = await request.get(`/api/v1/claims/${created.claim_id}`, {
    headers: { authorization: `Bearer ${token.access_token}` },
  });
  expect((await claim.json()).timeline[0].status).toBe("QUEUED");
  const doc = await request.get(`/api/v1/claims/${created.claim_id}/document`, {
    headers: { authorization: `Bearer ${token.access_token}` },
  });
  expect(sha(await doc.body())).toBe(sha(pdf));
  expect(baseURL).toBeTruthy();
});

test("the JWKS publishes the EC public key that signs tokens", async ({ request }) => {
  const jwks = await (await request.get("/.well-known/jwks.json")).json();
  const tokenRes = await request.post("/api/v1/auth/token", {
    data: { username: "operator-a", password: demoPassword },
  });
  const { access_token } = await tokenRes.json();
  const header = JSON.parse(Buffer.from(access_token.split(".")[0], "base64url").toString());
  expect(header.alg).toBe("ES256");
  expect(jwks.keys.map((k: { kid: string }) => k.kid)).toContain(header.kid);
  for (const k of jwks.keys) expect(k).not.toHaveProperty("d");
});

test("errors are problem+json with a stable code, also for unknown API paths and bad logins", async ({ request }) => {
  const bad = await request.post("/api/v1/auth/token", { data: { username: "vet-a", password: "wrong" } });
  expect(bad.status()).toBe(401);
  expect(bad.headers()["content-type"]).toBe("application/problem+json");
  expect(await bad.json()).toMatchObject({ status: 401, code: "invalid_credentials", title: expect.any(String) });

  const missing = await request.get("/api/v1/no-such-thing");
  expect(missing.status()).toBe(404);
  expect(missing.headers()["content-type"]).toBe("application/problem+json");
  expect((await missing.json()).code).toBe("not_found");

  const anon = await request.post("/claims", {
    headers: { "content-type": "application/pdf" },
    data: Buffer.from("%PDF-"),
  });
  expect(anon.status()).toBe(401);
  expect((await anon.json()).code).toBe("token_missing");
});

test("the SDK's submitClaim and the CLI both submit a claim and return its id", async ({ baseURL }) => {
  const { access_token } = await getToken({ baseUrl: baseURL!, username: "vet-b", password: demoPassword });
  const pdf = await makePdf();
  const sdk = await submitClaim({ baseUrl: baseURL!, token: access_token, pdf, idempotencyKey: crypto.randomUUID() });
  expect(sdk.claimId).toMatch(/^CLM-\d+$/);
  expect(sdk.sha256).toBe(sha(pdf));
  expect((await getClaim({ baseUrl: baseURL!, token: access_token, claimId: sdk.claimId })).tenant).toBe("agency-b");

  const file = path.join(tmpdir(), `hms-cli-${Date.now()}.pdf`);
  writeFileSync(file, await makePdf({ pages: 2 }));
  const out = execFileSync(
    process.execPath,
    ["scripts/hms-bin.cjs", "submit-claim", "--base-url", baseURL!, "--token", access_token, file],
    {
      encoding: "utf8",
    },
  );
  expect(out.trim()).toMatch(/^CLM-\d+$/);
});
