import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import { guardCheckedOut, pool } from "../db/pool";

/**
 * ES256 signing keys, generated on first use and stored in PostgreSQL so every web replica signs
 * and verifies with the same set. Rotation is two-phase, so validators that cache our JWKS never
 * see a token signed by a key they have not fetched yet:
 *  - a new key is published at once but signs only after SIGNING_ACTIVATION_DELAY_SECONDS
 *    (the JWKS max-age plus this process cache's 60 s);
 *  - the keys it replaces sign until then (retired_at = that moment), and stay published for
 *    the longest token lifetime after, so tokens they signed keep validating;
 *  - a compromised key is revoked by deleting it: its tokens fail at once in the revoking
 *    process and within 60 s (the key cache) on every replica.
 */
export const SIGNING_ALG = "ES256";
export const JWKS_MAX_AGE_SECONDS = 300;
const CACHE_MS = 60_000;
/** A new key signs only once every replica's cache and every validator's JWKS cache can hold it. */
export const SIGNING_ACTIVATION_DELAY_SECONDS = JWKS_MAX_AGE_SECONDS + CACHE_MS / 1000;
const RETIRED_GRACE_SECONDS = 24 * 60 * 60; // ≥ the longest token lifetime HMS_TOKEN_TTL_SECONDS allows

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
    may_sign: boolean;
    mature: boolean;
  }>(
    `SELECT kid, public_jwk, private_jwk, created_at,
            (retired_at IS NULL OR retired_at > now()) AS may_sign,
            created_at <= now() - make_interval(secs => $2) AS mature
       FROM signing_keys
      WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1)
      ORDER BY created_at DESC`,
    [RETIRED_GRACE_SECONDS, SIGNING_ACTIVATION_DELAY_SECONDS],
  );
  const verifiers = new Map<string, LoadedKey>();
  for (const r of rows) {
    verifiers.set(r.kid, {
      kid: r.kid,
      publicJwk: r.public_jwk,
      publicKey: await importJWK(r.public_jwk, SIGNING_ALG),
      createdAt: r.created_at,
    });
  }
  // The newest key that has been published long enough signs; on first start, the only key.
  const candidates = rows.filter((r) => r.may_sign);
  const chosen = candidates.find((r) => r.mature) ?? candidates.at(-1);
  const signer = chosen ? { kid: chosen.kid, privateKey: await importJWK(chosen.private_jwk, SIGNING_ALG) } : null;
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

/**
 * Rotation: the new key is published now and signs from JWKS_MAX_AGE_SECONDS on; the keys it
 * replaces sign until then and stay published for a day after.
 */
export async function rotateSigningKey(): Promise<{ kid: string; signsFrom: Date }> {
  const kid = await createSigningKey();
  await pool().query(
    `UPDATE signing_keys SET retired_at = now() + make_interval(secs => $2)
      WHERE kid <> $1 AND (retired_at IS NULL OR retired_at > now() + make_interval(secs => $2))`,
    [kid, SIGNING_ACTIVATION_DELAY_SECONDS],
  );
  await keys(true);
  return { kid, signsFrom: new Date(Date.now() + SIGNING_ACTIVATION_DELAY_SECONDS * 1000) };
}

/** Revocation of a compromised key: deleted, so every token it signed fails from now on. */
export async function revokeSigningKey(kid: string): Promise<boolean> {
  const r = await pool().query(`DELETE FROM signing_keys WHERE kid = $1`, [kid]);
  await keys(true);
  return r.rowCount === 1;
}

/** The key that signs new tokens; generated on first start (once, across replicas). */
export async function currentSigner(): Promise<{ kid: string; privateKey: CryptoKey | Uint8Array }> {
  let k = await keys();
  if (!k.signer) {
    const client = await pool().connect();
    const unguard = guardCheckedOut(client);
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
      client.release(unguard());
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

/** Drops the 60 s cache (tests; a replica otherwise picks changes up within a minute). */
export async function reloadSigningKeys(): Promise<void> {
  await keys(true);
}
