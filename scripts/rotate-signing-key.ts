/**
 * `npm run keys:rotate`: a new ES256 key signs from now on; the previous keys stay in the JWKS
 * for a day so tokens already issued keep validating. Replicas pick the new key up within 60 s.
 */
import path from "node:path";
import { rotateSigningKey } from "../lib/auth/signing-keys";
import { pool } from "../lib/db/pool";
import { ensureDatabase } from "../lib/system/database-bootstrap";
import { loadOrCreateSecrets } from "../lib/system/secrets";

const dataDir = path.resolve(process.env.HMS_DATA_DIR ?? ".data");
const embedded = await ensureDatabase({ dataDir, secrets: await loadOrCreateSecrets(dataDir), log: console.log });
try {
  console.log(`new signing key: ${await rotateSigningKey()}`);
} finally {
  await pool().end();
  await embedded?.stop();
}
