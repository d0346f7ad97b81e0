import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { startEphemeralDatabase } from "../db/ephemeral";
import { createPool } from "../db/pool";
import { seedDemo } from "../db/seed-demo";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    ownerDatabaseUrl: string;
    superuserDatabaseUrl: string;
    nextauthSecret: string;
  }
}

/** One fresh, migrated PostgreSQL per integration run (embedded, or a new DB on an external server). */
export default async function setup(project: TestProject) {
  const db = await startEphemeralDatabase();
  const p = createPool(db.appUrl, 2, { allTenants: true });
  await seedDemo(p, "demo-pass");
  await p.end();
  project.provide("databaseUrl", db.appUrl);
  project.provide("ownerDatabaseUrl", db.ownerUrl);
  project.provide("superuserDatabaseUrl", db.superuserUrl);
  project.provide("nextauthSecret", randomBytes(32).toString("hex"));
  return async () => {
    await db.stop();
  };
}
