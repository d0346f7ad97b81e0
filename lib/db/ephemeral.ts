import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbedded } from "./embedded";
import { freePort } from "./free-port";
import { migrate } from "./migrator";
import { provisionDatabase } from "./provision";

/**
 * A fresh, migrated database for one test run, benchmark or migration diff. By default a new
 * embedded PostgreSQL in a temp dir on a free port; when HMS_TEST_ADMIN_DATABASE_URL points at an
 * external server (CI proves Debian's PostgreSQL 15 this way), a new database on it instead.
 */
export interface EphemeralDb {
  appUrl: string;
  ownerUrl: string;
  superuserUrl: string;
  stop(): Promise<void>;
}

export async function startEphemeralDatabase(opts: { migrate?: boolean } = {}): Promise<EphemeralDb> {
  const suffix = randomBytes(4).toString("hex");
  const secret = () => randomBytes(12).toString("hex");
  const external = process.env.HMS_TEST_ADMIN_DATABASE_URL;
  let superuserUrl: string;
  let stopServer: () => Promise<void>;
  if (external) {
    superuserUrl = external;
    stopServer = async () => {};
  } else {
    const dir = await mkdtemp(path.join(tmpdir(), "hms-pg-"));
    const server = await startEmbedded({
      dataDir: path.join(dir, "data"),
      port: await freePort(),
      superuserPassword: secret(),
      persistent: true,
    });
    superuserUrl = server.superuserUrl;
    stopServer = async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const database = `hms_test_${suffix}`;
  const { ownerUrl, appUrl } = await provisionDatabase(superuserUrl, {
    database,
    owner: { name: `hms_owner_${suffix}`, password: secret() },
    app: { name: `hms_app_${suffix}`, password: secret() },
  });
  if (opts.migrate ?? true) {
    await migrate(ownerUrl, { appRole: `hms_app_${suffix}` });
  }
  return {
    appUrl,
    ownerUrl,
    superuserUrl,
    stop: async () => {
      if (external) {
        const c = new pg.Client({ connectionString: superuserUrl });
        await c.connect();
        try {
          await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
          await c.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(`hms_app_${suffix}`)}`);
          await c.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(`hms_owner_${suffix}`)}`);
        } finally {
          await c.end();
        }
      }
      await stopServer();
    },
  };
}
