/**
 * `npm start`: the whole system on one machine.
 * embedded PostgreSQL (unless DATABASE_URL is set) → migrations → demo data → build if needed →
 * data plane (public port: gateway, queues, pass-through) + web (Next.js, internal port) + worker
 * (+ demo fleet) → prints the URL and demo logins. Ctrl-C stops everything.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import path from "node:path";
import { isDemoMode, loadEnv } from "../lib/config/env";
import { freePort } from "../lib/db/free-port";
import { accessLogTarget } from "../lib/gateway/access-log";
import { createPool } from "../lib/db/pool";
import { demoUsers, seedDemo } from "../lib/db/seed-demo";
import { DEMO_REVIEW_TOKENS_ENV, issueDemoReviewTokens } from "../lib/demo-fleet/demo-reviewers";
import { controlUrl } from "../lib/demo-fleet/fleet-spec";
import { networkPolicyFromEnv } from "../lib/net/network-policy";
import { registerFleet } from "../lib/demo-fleet/register-fleet";
import { buildIsStale } from "../lib/system/build-freshness";
import { ensureDatabase, migrateDatabase } from "../lib/system/database-bootstrap";
import { loadOrCreateSecrets } from "../lib/system/secrets";

const root = process.cwd();
const dataDir = path.resolve(process.env.HMS_DATA_DIR ?? ".data");
const distDir = process.env.HMS_NEXT_DIST_DIR || ".next";
const say = (m: string) => console.log(`[hms] ${m}`);

process.env.NEXT_TELEMETRY_DISABLED = "1";
const secrets = await loadOrCreateSecrets(dataDir);
if (!process.env.NEXTAUTH_SECRET) {
  if (process.env.DATABASE_URL) {
    say(
      "warning: NEXTAUTH_SECRET is not set; using this host's own (.data/secrets.json). Every web replica needs the same one.",
    );
  }
  process.env.NEXTAUTH_SECRET = secrets.nextauthSecret;
}
if (!process.env.HMS_AUDIT_KEY) {
  if (process.env.DATABASE_URL) {
    say(
      "warning: HMS_AUDIT_KEY is not set; using this host's own (.data/secrets.json). Every process needs the same one.",
    );
  }
  process.env.HMS_AUDIT_KEY = secrets.auditKey;
}

const embedded = await ensureDatabase({ dataDir, secrets, log: say });
const env = loadEnv();
process.env.NEXTAUTH_URL ??= `http://localhost:${env.PORT}`;
const migrated = await migrateDatabase(say);
say(`database ready (${migrated.applied.length} migration(s) applied, ${migrated.skipped.length} already present)`);

const demo = isDemoMode(env, { embeddedDatabase: embedded !== null });
const fleetBasePort = env.HMS_DEMO_FLEET_PORT;
networkPolicyFromEnv(); // refuse a malformed HMS_ALLOW_PRIVATE_NETWORKS now, not on the first registration
process.env.HMS_DEMO_FLEET_PORT = String(fleetBasePort);
process.env.HMS_DEMO = demo ? "1" : "0"; // children (next start runs as production) agree with us
// The demo reviewers' service tokens go to the demo fleet process only (its environment), never to a log.
let demoReviewTokens: Record<string, string> = {};
if (demo) {
  // Seeding writes into every tenant: the all-tenants scope of row-level security.
  const db = createPool(env.DATABASE_URL, 2, { allTenants: true });
  await seedDemo(db, env.HMS_DEMO_PASSWORD);
  const registered = await registerFleet(db, fleetBasePort);
  // Fresh claim-review tokens each start; the previous start's are revoked (both audited).
  demoReviewTokens = await issueDemoReviewTokens(db, say);
  await db.end();
  say("demo data seeded (tenants agency-a, agency-b)");
  if (registered.length) say(`demo fleet registered: ${registered.join(", ")}`);
  process.env.HMS_DEMO_FLEET_CONTROL_URL = controlUrl(fleetBasePort);
}

if (!process.argv.includes("--dev") && buildIsStale(root, distDir)) {
  say("building the web app (first start or sources changed)…");
  const gen = spawnSync(process.execPath, [path.join(root, "node_modules/prisma/build/index.js"), "generate"], {
    stdio: "inherit",
    env: process.env,
  });
  if (gen.status !== 0) {
    await embedded?.stop();
    process.exit(gen.status ?? 1);
  }
  const r = spawnSync(process.execPath, [path.join(root, "node_modules/next/dist/bin/next"), "build"], {
    stdio: "inherit",
    env: process.env,
  });
  if (r.status !== 0) {
    await embedded?.stop();
    process.exit(r.status ?? 1);
  }
}

const children: ChildProcess[] = [];
let stopping = false;
function launch(name: string, args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, args, { stdio: "inherit", env: { ...process.env, ...extraEnv } });
  children.push(child);
  child.on("exit", (code, signal) => {
    if (!stopping) {
      say(`${name} exited (${signal ?? code}); stopping everything`);
      void shutdown(1);
    }
  });
  return child;
}

const tsx = path.join(root, "node_modules/tsx/dist/cli.mjs");
// The data-plane process owns the public port and passes pages and the API to the web process on
// an internal one, appending the client's address to X-Forwarded-For: the web process trusts that
// one hop more than the proxies configured in front of us.
const webPort = env.HMS_WEB_PORT ?? (await freePort());
launch("web", [tsx, "scripts/web-server.ts", ...(process.argv.includes("--dev") ? ["--dev"] : [])], {
  PORT: String(webPort),
  HMS_LISTEN_HOST: "127.0.0.1",
  HMS_TRUSTED_PROXY_HOPS: String(env.HMS_TRUSTED_PROXY_HOPS + 1),
});
launch("worker", [tsx, "lib/worker/main.ts"]);

async function answers(url: string): Promise<boolean> {
  for (let i = 0; i < 240; i++) {
    if (stopping) return false;
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok) return true;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

// The public port opens once the web process answers, so nobody meets a 503 while Next starts.
async function waitForWeb(): Promise<boolean> {
  if (!(await answers(`http://127.0.0.1:${webPort}/.well-known/jwks.json`))) return false;
  launch("data plane", [tsx, "scripts/gateway-server.ts"], { HMS_WEB_URL: `http://127.0.0.1:${webPort}` });
  if (!(await answers(`http://127.0.0.1:${env.PORT}/.well-known/jwks.json`))) return false;
  if (demo) {
    launch("demo fleet", [tsx, "scripts/demo-fleet.ts"], {
      [DEMO_REVIEW_TOKENS_ENV]: JSON.stringify(demoReviewTokens),
    });
  }
  return true;
}

if (await waitForWeb()) {
  const lines = [
    "",
    `HMS-SYS is running: http://localhost:${env.PORT}`,
    ...(demo
      ? [
          `Demo logins (password: ${process.env.HMS_DEMO_PASSWORD ? "$HMS_DEMO_PASSWORD" : env.HMS_DEMO_PASSWORD}):`,
          ...demoUsers.map(
            (u) => `  ${u.username.padEnd(11)} ${u.role}${u.tenantId ? ` of ${u.tenantId}` : " (all agencies)"}`,
          ),
        ]
      : []),
    `API token: curl -s -X POST http://localhost:${env.PORT}/api/v1/auth/token -H 'content-type: application/json' -d '{"username":"vet-a","password":"…"}'`,
    ...(typeof accessLogTarget() === "string" ? [`Gateway access log (JSON lines): ${String(accessLogTarget())}`] : []),
    "Press Ctrl-C to stop.",
    "",
  ];
  console.log(lines.join("\n"));
} else {
  say("the web process did not become ready in 120 s");
  await shutdown(1);
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say("stopping…");
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
          c.once("exit", () => (clearTimeout(t), resolve()));
          c.kill("SIGTERM");
        }),
    ),
  );
  if (embedded) await embedded.stop().catch(() => {});
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
