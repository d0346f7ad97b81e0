import pg from "pg";

/**
 * Creates (if missing) the owner role that runs migrations, the app role the system connects as
 * (LOGIN, NOSUPERUSER, NOBYPASSRLS: row-level security must apply to it), and the database.
 * Needs a superuser (or CREATEROLE + CREATEDB) URL; used for embedded PostgreSQL and tests.
 */
export interface ProvisionedDb {
  ownerUrl: string;
  appUrl: string;
}

export async function provisionDatabase(
  adminUrl: string,
  opts: { database: string; owner: { name: string; password: string }; app: { name: string; password: string } },
): Promise<ProvisionedDb> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    for (const role of [opts.owner, opts.app]) {
      const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role.name]);
      const verb = exists.rowCount ? "ALTER" : "CREATE";
      await client.query(
        `${verb} ROLE ${pg.escapeIdentifier(role.name)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD ${pg.escapeLiteral(role.password)}`,
      );
    }
    const db = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [opts.database]);
    if (!db.rowCount) {
      await client.query(
        `CREATE DATABASE ${pg.escapeIdentifier(opts.database)} OWNER ${pg.escapeIdentifier(opts.owner.name)} ENCODING 'UTF8' TEMPLATE template0`,
      );
    }
    await client.query(
      `GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(opts.database)} TO ${pg.escapeIdentifier(opts.app.name)}`,
    );
  } finally {
    await client.end();
  }
  const base = new URL(adminUrl);
  const urlFor = (r: { name: string; password: string }) => {
    const u = new URL(base.toString());
    u.username = encodeURIComponent(r.name);
    u.password = encodeURIComponent(r.password);
    u.pathname = `/${opts.database}`;
    return u.toString();
  };
  return { ownerUrl: urlFor(opts.owner), appUrl: urlFor(opts.app) };
}

export function roleOf(url: string): string {
  return decodeURIComponent(new URL(url).username);
}
