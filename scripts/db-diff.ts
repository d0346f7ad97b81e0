/**
 * npm run db:diff NAME — authors the next migration: diffs the schema snapshot of the newest
 * migration (or an empty database) against prisma/schema.prisma and writes
 * prisma/migrations/<timestamp>_<NAME>/{migration.sql,schema.prisma}. Prisma's JS engine needs a
 * live database even to diff two files, so a throwaway embedded PostgreSQL is started for it.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { startEphemeralDatabase } from "../lib/db/ephemeral";

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error("usage: npm run db:diff <name>   (lowercase letters, digits, underscores)");
  process.exit(2);
}
const dir = path.join("prisma", "migrations");
const existing = (await readdir(dir, { withFileTypes: true }))
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();
const last = existing.at(-1);
const from =
  last && existsSync(path.join(dir, last, "schema.prisma"))
    ? ["--from-schema-datamodel", path.join(dir, last, "schema.prisma")]
    : ["--from-empty"];

const db = await startEphemeralDatabase({ migrate: false });
try {
  const sql = execFileSync(
    "npx",
    ["prisma", "migrate", "diff", ...from, "--to-schema-datamodel", "prisma/schema.prisma", "--script"],
    { env: { ...process.env, DATABASE_URL: db.ownerUrl }, encoding: "utf8" },
  );
  if (!sql.trim() || /^-- This is an empty migration/.test(sql.trim())) {
    console.log("No schema changes.");
  } else {
    const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
    const out = path.join(dir, `${stamp}_${name}`);
    await mkdir(out, { recursive: true });
    await writeFile(path.join(out, "migration.sql"), sql);
    await copyFile("prisma/schema.prisma", path.join(out, "schema.prisma"));
    console.log(`Wrote ${out}/migration.sql — review it (and add any hand-written SQL) before committing.`);
  }
} finally {
  await db.stop();
}
