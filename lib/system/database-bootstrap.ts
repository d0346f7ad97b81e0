import path from "node:path";
import { startEmbedded, type EmbeddedDb } from "../db/embedded";
import { migrate, type MigrationResult } from "../db/migrator";
import { provisionDatabase, roleOf } from "../db/provision";
import type { LocalSecrets } from "./secrets";

/**
 * Makes DATABASE_URL (app role) and DATABASE_OWNER_URL (migrations) point at a ready database:
 * the given external PostgreSQL, or embedded PostgreSQL in `<dataDir>/pg` when DATABASE_URL is unset.
 */
export async function ensureDatabase(opts: {
  dataDir: string;
  secrets: LocalSecrets;
  log: (m: string) => void;
}): Promise<EmbeddedDb | null> {
  if (process.env.DATABASE_URL) return null;
  const port = Number(process.env.HMS_PG_PORT ?? 54320);
  opts.log(`starting embedded PostgreSQL on 127.0.0.1:${port} (data in ${path.join(opts.dataDir, "pg")})`);
  const embedded = await startEmbedded({
    dataDir: path.join(opts.dataDir, "pg"),
    port,
    superuserPassword: opts.secrets.superuserPassword,
    log: (m) => opts.log(`postgres: ${m}`),
  });
  const urls = await provisionDatabase(embedded.superuserUrl, {
    database: "hms",
    owner: { name: "hms_owner", password: opts.secrets.ownerPassword },
    app: { name: "hms_app", password: opts.secrets.appPassword },
  });
  process.env.DATABASE_URL = urls.appUrl;
  process.env.DATABASE_OWNER_URL = urls.ownerUrl;
  return embedded;
}

/** Applies pending migrations as the owner role and (re)grants the app role its row rights. */
export async function migrateDatabase(log: (m: string) => void): Promise<MigrationResult> {
  const appUrl = process.env.DATABASE_URL;
  if (!appUrl) throw new Error("DATABASE_URL is not set");
  const ownerUrl = process.env.DATABASE_OWNER_URL ?? appUrl;
  const appRole = roleOf(appUrl);
  return migrate(ownerUrl, { appRole: appRole !== roleOf(ownerUrl) ? appRole : undefined, log });
}
