import { readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";

/** Facts about the system the Playwright config started (see playwright.config.ts). */
export const e2eDataDir = process.env.HMS_E2E_DATA_DIR!;
export const e2ePort = Number(process.env.HMS_E2E_PORT);
export const e2ePgPort = Number(process.env.HMS_E2E_PG_PORT);
export const demoPassword = process.env.HMS_DEMO_PASSWORD ?? "demo-pass";

function secrets(): { superuserPassword: string; appPassword: string; nextauthSecret: string } {
  return JSON.parse(readFileSync(path.join(e2eDataDir, "secrets.json"), "utf8"));
}

/** The app role's URL (what `npm start` gives the web process). */
export function appDatabaseUrl(): string {
  return `postgresql://hms_app:${encodeURIComponent(secrets().appPassword)}@127.0.0.1:${e2ePgPort}/hms`;
}

/** A superuser connection for checks that must see everything, bypassing the app's own rules. */
export function inspectorPool(): pg.Pool {
  return new pg.Pool({
    connectionString: `postgresql://postgres:${encodeURIComponent(secrets().superuserPassword)}@127.0.0.1:${e2ePgPort}/hms`,
    max: 2,
  });
}

export function nextauthSecret(): string {
  return secrets().nextauthSecret;
}

export async function tokenFor(baseURL: string, username: string, password = demoPassword): Promise<string> {
  const r = await fetch(`${baseURL}/api/v1/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!r.ok) throw new Error(`token for ${username}: ${r.status}`);
  return ((await r.json()) as { access_token: string }).access_token;
}
