import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { defineConfig } from "@playwright/test";

/**
 * e2e: the real system as `npm start` brings it up (embedded PostgreSQL in a fresh temp dir,
 * migrations, demo data, web + worker), driven by Debian's Chromium.
 */
process.env.HMS_E2E_DATA_DIR ??= mkdtempSync(path.join(tmpdir(), "hms-e2e-"));
process.env.HMS_E2E_PORT ??= "3210";
process.env.HMS_E2E_PG_PORT ??= "54390";
const port = Number(process.env.HMS_E2E_PORT);

const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "e2e",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: process.env.CI ? 1 : 0,
  reporter: process.env.CI ? [["list"]] : [["list"]],
  use: {
    baseURL: `http://localhost:${port}`,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      // Debian's Chromium (Playwright's own browser download is impossible offline); fall back to
      // Playwright's browser where one is installed.
      executablePath: existsSync(chromium) ? chromium : undefined,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    },
  },
  projects: [{ name: "chromium", use: { browserName: "chromium" } }],
  webServer: {
    command: "npx tsx scripts/start.ts",
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    timeout: 300_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 20_000 },
    env: {
      PORT: String(port),
      HMS_DATA_DIR: process.env.HMS_E2E_DATA_DIR,
      HMS_PG_PORT: process.env.HMS_E2E_PG_PORT,
      HMS_LOG_LEVEL: "warn",
      NODE_ENV: "production",
      HMS_DEMO: "1",
      HMS_DEMO_FLEET_PORT: process.env.HMS_E2E_FLEET_PORT ?? "7310",
    },
  },
});
