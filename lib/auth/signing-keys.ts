import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import { pool } from "../db/pool";

/**
 * ES256 signing keys, generated on first use and stored in PostgreSQL so every web replica signs
 * and verifies with the same set. Rotation-ready: the newest unretired key signs; every key that
 * is unretired, or retired for less than the longest token lifetime, stays in the JWKS.
 */
export const SIGNING_ALG = "ES256";
const CACHE_MS = 60_000;
const RETIRED_GRACE_SECONDS = 24 * 60 * 60;

interface LoadedKey {
  kid: string;
  publicJwk: JWK;
  publicKey: CryptoKey | Uint8Array;
  createdAt: Date;
}

interface KeyCache {
  loadedAt: number;
  signer: { kid: string; privateKey: CryptoKey | Uint8Array } | null;
  verifiers: Map<string, LoadedKey>;
}

const globalForKeys = globalThis as unknown as { hmsKeyCache?: KeyCache; hmsKeyLoad?: Promise<KeyCache> };

async function load(): Promise<KeyCache> {
  const { rows } = await pool().query<{
    kid: string;
    public_jwk: JWK;
    private_jwk: JWK;
    created_at: Date;
    retired_at: Date | null;
  }>(
    `SELECT kid, public_jwk, private_jwk, created_at, retired_at FROM signing_keys
      WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1)
      ORDER BY created_at DESC`,
    [RETIRED_GRACE_SECONDS],
  );
  const verifiers = new Map<string, LoadedKey>();
  let signer: KeyCache["signer"] = null;
  for (const r of rows) {
    verifiers.set(r.kid, {
      kid: r.kid,
      publicJwk: r.public_jwk,
      publicKey: await importJWK(r.public_jwk, SIGNING_ALG),
      createdAt: r.created_at,
    });
    if (!signer && r.retired_at === null)
      signer = { kid: r.kid, privateKey: await importJWK(r.private_jwk, SIGNING_ALG) };
  }
  return { loadedAt: Date.now(), signer, verifiers };
}

async function keys(force = false): Promise<KeyCache> {
  const c = globalForKeys.hmsKeyCache;
  if (!force && c && Date.now() - c.loadedAt < CACHE_MS) return c;
  globalForKeys.hmsKeyLoad ??= load().finally(() => (globalForKeys.hmsKeyLoad = undefined));
  globalForKeys.hmsKeyCache = await globalForKeys.hmsKeyLoad;
  return globalForKeys.hmsKeyCache;
}

/** Creates a new signing key; the previous ones keep verifying until retired + grace. */
export async function createSigningKey(): Promise<string> {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  await pool().query(
    `INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    [kid, SIGNING_ALG, { ...publicJwk, kid, alg: SIGNING_ALG, use: "sig" }, { ...privateJwk, kid, alg: SIGNING_ALG }],
  );
  await keys(true);
  return kid;
}

/** Rotation: a new key signs from now on; older ones are retired (still published for a day). */
export async function rotateSigningKey(): Promise<string> {
  const kid = await createSigningKey();
  await pool().query(`UPDATE signing_keys SET retired_at = now() WHERE kid <> $1 AND retired_at IS NULL`, [kid]);
  await keys(true);
  return kid;
}

/** The key that signs new tokens; generated on first start (once, across replicas). */
export async function currentSigner(): Promise<{ kid: string; privateKey: CryptoKey | Uint8Array }> {
  let k = await keys();
  if (!k.signer) {
    const client = await pool().connect();
    try {
      // One replica creates the first key; the others wait on the lock, then load it.
      await client.query("SELECT pg_advisory_lock(72707370)");
      k = await keys(true);
      if (!k.signer) {
        await createSigningKey();
        k = await keys(true);
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock(72707370)").catch(() => {});
      client.release();
    }
  }
  if (!k.signer) throw new Error("no signing key available");
  return k.signer;
}

/** The public key for a `kid`, reloading once if unknown (another replica may have rotated). */
export async function verificationKey(kid: string): Promise<CryptoKey | Uint8Array | null> {
  const hit = (await keys()).verifiers.get(kid);
  if (hit) return hit.publicKey;
  return (await keys(true)).verifiers.get(kid)?.publicKey ?? null;
}

/** The JWKS document: every key a valid token may be signed with. */
export async function publicJwks(): Promise<{ keys: JWK[] }> {
  let k = await keys();
  if (k.verifiers.size === 0) {
    await currentSigner();
    k = await keys();
  }
  return { keys: [...k.verifiers.values()].map((v) => v.publicJwk) };
}
