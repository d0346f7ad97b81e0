import { base64url, exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { AppError } from "../http/app-error";
import { createUser } from "../testing/fixtures";
import { issueAccessToken, tokenSettings, verifyAccessToken } from "./access-token";
import { systemPool } from "../db/pool";
import { currentSigner, publicJwks, reloadSigningKeys, revokeSigningKey, rotateSigningKey } from "./signing-keys";

async function currentSignerFresh() {
  await reloadSigningKeys();
  return currentSigner();
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBe(401);
    return (err as AppError).code;
  }
  throw new Error("expected the token to be refused");
}

const s = tokenSettings();
const now = () => Math.floor(Date.now() / 1000);

async function signWithOurKey(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  const { kid, privateKey } = await currentSigner();
  return new SignJWT({ role: "veteran", tenant: "agency-a", ...claims })
    .setProtectedHeader({ alg: "ES256", kid, ...header })
    .sign(privateKey);
}

function unsigned(header: Record<string, unknown>, payload: Record<string, unknown>, signature = "") {
  const enc = (o: unknown) => base64url.encode(JSON.stringify(o));
  return `${enc(header)}.${enc(payload)}.${signature}`;
}

describe("access tokens", () => {
  it("issues an ES256 token with kid, iss, aud, sub, tenant, role and exp that verifies back to the user", async () => {
    const user = await createUser("veteran", "agency-a");
    const [h, p] = user.token
      .split(".")
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, "base64url").toString()));
    expect(h).toMatchObject({ alg: "ES256", typ: "JWT" });
    expect(typeof h.kid).toBe("string");
    expect(p).toMatchObject({ iss: s.issuer, aud: s.audience, sub: user.userId, tenant: "agency-a", role: "veteran" });
    expect(p.exp - p.iat).toBe(s.ttlSeconds);
    await expect(verifyAccessToken(user.token)).resolves.toMatchObject({ userId: user.userId, role: "veteran" });
  });

  it("publishes the signing key in the JWKS without any private part", async () => {
    const { kid } = await currentSigner();
    const jwks = await publicJwks();
    const key = jwks.keys.find((k) => k.kid === kid);
    expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(key).not.toHaveProperty("d");
  });

  it("refuses an expired token but tolerates up to 60 s of clock skew", async () => {
    const base = { sub: "u1", iss: s.issuer, aud: s.audience, iat: now() - 600 };
    expect(await codeOf(verifyAccessToken(await signWithOurKey({ ...base, exp: now() - 120 })))).toBe("token_expired");
    await expect(verifyAccessToken(await signWithOurKey({ ...base, exp: now() - 30 }))).resolves.toMatchObject({
      userId: "u1",
    });
  });

  it("refuses tokens without exp, or with the wrong iss or aud", async () => {
    const ok = { sub: "u1", iss: s.issuer, aud: s.audience, exp: now() + 300 };
    expect(await codeOf(verifyAccessToken(await signWithOurKey({ ...ok, exp: undefined })))).toBe(
      "token_claim_invalid",
    );
    expect(await codeOf(verifyAccessToken(await signWithOurKey({ ...ok, iss: "evil" })))).toBe("token_claim_invalid");
    expect(await codeOf(verifyAccessToken(await signWithOurKey({ ...ok, aud: "other-api" })))).toBe(
      "token_claim_invalid",
    );
  });

  it("refuses a token signed by another key, even one claiming our kid or pointing at its own jku/jwk", async () => {
    const { kid } = await currentSigner();
    const attacker = await generateKeyPair("ES256", { extractable: true });
    const jwk = await exportJWK(attacker.publicKey);
    const forged = await new SignJWT({ role: "admin", tenant: null })
      .setProtectedHeader({ alg: "ES256", kid, jku: "http://127.0.0.1:1/jwks.json", jwk })
      .setSubject("attacker")
      .setIssuer(s.issuer)
      .setAudience(s.audience)
      .setExpirationTime("5m")
      .sign(attacker.privateKey);
    expect(await codeOf(verifyAccessToken(forged))).toBe("token_invalid_signature");
    const unknownKid = await new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: "ES256", kid: "not-ours" })
      .setSubject("attacker")
      .setIssuer(s.issuer)
      .setAudience(s.audience)
      .setExpirationTime("5m")
      .sign(attacker.privateKey);
    expect(await codeOf(verifyAccessToken(unknownKid))).toBe("token_invalid_signature");
  });

  it("refuses alg none and an HS256 token forged with the public key as the secret", async () => {
    const { kid } = await currentSigner();
    const payload = { sub: "u1", iss: s.issuer, aud: s.audience, exp: now() + 300, role: "admin" };
    expect(await codeOf(verifyAccessToken(unsigned({ alg: "none", kid }, payload)))).toBe(
      "token_algorithm_not_allowed",
    );
    const pub = (await publicJwks()).keys.find((k) => k.kid === kid)!;
    const secret = new TextEncoder().encode(JSON.stringify(pub));
    const hs = await new SignJWT(payload).setProtectedHeader({ alg: "HS256", kid }).sign(secret);
    expect(await codeOf(verifyAccessToken(hs))).toBe("token_algorithm_not_allowed");
  });

  it("refuses malformed tokens", async () => {
    expect(await codeOf(verifyAccessToken("not-a-jwt"))).toBe("token_malformed");
    expect(await codeOf(verifyAccessToken("a.b.c"))).toBe("token_malformed");
    expect(await codeOf(verifyAccessToken(unsigned({ alg: "ES256" }, { sub: 1 }, "AAAA")))).toBe(
      "token_invalid_signature",
    );
  });

  it("rotates in two phases: the new key is published at once and signs only once validators could fetch it", async () => {
    const user = await createUser("operator", "agency-a");
    const kidOf = (t: string) => JSON.parse(Buffer.from(t.split(".")[0]!, "base64url").toString()).kid;
    const before = user.token;
    const { kid: newKid } = await rotateSigningKey();
    expect((await publicJwks()).keys.map((k) => k.kid)).toEqual(expect.arrayContaining([newKid, kidOf(before)]));
    const during = await issueAccessToken(user);
    expect(kidOf(during)).toBe(kidOf(before)); // the old key still signs during the publish window

    // Let the publish window pass (as the clock would), then the new key signs.
    await systemPool().query(
      `UPDATE signing_keys SET created_at = created_at - interval '10 minutes',
              retired_at = CASE WHEN retired_at IS NOT NULL THEN retired_at - interval '10 minutes' END`,
    );
    await publicJwks();
    const { kid: signingNow } = await currentSignerFresh();
    expect(signingNow).toBe(newKid);
    const after = await issueAccessToken(user);
    expect(kidOf(after)).toBe(newKid);
    for (const t of [before, during, after])
      await expect(verifyAccessToken(t)).resolves.toMatchObject({ userId: user.userId });
  });

  it("revoking a key makes every token it signed fail at once", async () => {
    const user = await createUser("veteran", "agency-a");
    const kid = JSON.parse(Buffer.from(user.token.split(".")[0]!, "base64url").toString()).kid;
    expect(await revokeSigningKey(kid)).toBe(true);
    expect(await codeOf(verifyAccessToken(user.token))).toBe("token_invalid_signature");
    const fresh = await issueAccessToken(user); // a remaining (or newly made) key signs
    await expect(verifyAccessToken(fresh)).resolves.toMatchObject({ userId: user.userId });
  });
});
