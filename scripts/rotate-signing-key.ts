/**
 * `npm run keys:rotate`: publishes a new ES256 key, which starts signing once validators have
 * had time to fetch it (5 min); the previous keys stay in the JWKS for a day after that.
 * `npm run keys:rotate -- --revoke <kid>`: deletes a compromised key; its tokens fail at once.
 */
import path from "node:path";
import { revokeSigningKey, rotateSigningKey } from "../lib/auth/signing-keys";
import { pool } from "../lib/db/pool";
import { ensureDatabase } from "../lib/system/database-bootstrap";
import { loadOrCreateSecrets } from "../lib/system/secrets";

const dataDir = path.resolve(process.env.HMS_DATA_DIR ?? ".data");
const embedded = await ensureDatabase({ dataDir, secrets: await loadOrCreateSecrets(dataDir), log: console.log });
try {
  const revoke = process.argv.indexOf("--revoke");
  if (revoke !== -1) {
    const kid = process.argv[revoke + 1];
    if (!kid) throw new Error("usage: npm run keys:rotate -- --revoke <kid>");
    console.log((await revokeSigningKey(kid)) ? `revoked ${kid}` : `no key ${kid}`);
  } else {
    const r = await rotateSigningKey();
    console.log(`new signing key ${r.kid}: published now, signs from ${r.signsFrom.toISOString()}`);
  }
} finally {
  await pool().end();
  await embedded?.stop();
}
