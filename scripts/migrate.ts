/**
 * `npm run db:migrate`: applies prisma/migrations as DATABASE_OWNER_URL (or DATABASE_URL) and
 * grants the app role (DATABASE_URL's user) its row rights. Without DATABASE_URL it migrates the
 * embedded database in .data/ (starting and stopping it).
 */
import path from "node:path";
import { ensureDatabase, migrateDatabase } from "../lib/system/database-bootstrap";
import { loadOrCreateSecrets } from "../lib/system/secrets";

const say = (m: string) => console.log(`[migrate] ${m}`);
const dataDir = path.resolve(process.env.HMS_DATA_DIR ?? ".data");
const embedded = await ensureDatabase({ dataDir, secrets: await loadOrCreateSecrets(dataDir), log: say });
try {
  const r = await migrateDatabase(say);
  say(`${r.applied.length} applied, ${r.skipped.length} already present`);
} finally {
  await embedded?.stop();
}
