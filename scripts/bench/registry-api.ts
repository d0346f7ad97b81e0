/**
 * Registry/health read-path benchmark (issue 3): `GET /health` and `GET /services` (and the board
 * API) with 1,000 services, through the real system (the data plane's public port and its
 * pass-through into the web process, as `npm start` serves them), plus the board's first load in
 * headless Chromium. Latencies are client-side, keep-alive, sequential requests after a warm-up.
 */
import { existsSync } from "node:fs";
import { chromium } from "@playwright/test";
import pg from "pg";
import { percentile, startBenchSystem } from "./system";

export interface ApiRow {
  request: string;
  samples: number;
  p50ms: number;
  p95ms: number;
  p99ms: number;
}

async function seedServices(url: string, n: number): Promise<void> {
  const db = new pg.Pool({ connectionString: url, max: 2, options: "-c app.tenant_id=*" });
  // 1,000 services with 2 instances each, statuses spread like a real fleet, and 15 minutes of roll-ups.
  await db.query(
    `WITH s AS (
       INSERT INTO services (id, tenant_id, name, status, status_reason, check_interval_seconds)
       SELECT gen_random_uuid(), 'agency-a', 'svc-' || lpad(g::text, 4, '0'),
              (ARRAY['green','green','green','green','yellow','red','unknown'])[1 + g % 7]::"HealthStatus",
              CASE WHEN g % 7 IN (4, 5) THEN '1 of 2 instances red (connection refused)' END, 3600
         FROM generate_series(1, $1::int) g RETURNING id, status)
     , i AS (
       INSERT INTO instances (id, service_id, tenant_id, url, region, status, next_check_at)
       SELECT gen_random_uuid(), s.id, 'agency-a', 'http://10.0.' || (k) || '.1', CASE k WHEN 1 THEN 'primary' ELSE 'secondary' END,
              s.status, 'infinity'
         FROM s, generate_series(1, 2) k RETURNING id, service_id)
     INSERT INTO health_rollups (instance_id, minute, service_id, tenant_id, passes, latency_sum_ms, latency_max_ms, latency_buckets)
     SELECT i.id, date_trunc('minute', now()) - make_interval(mins => m), i.service_id, 'agency-a', 6, 600, 150,
            ARRAY[0,0,2,3,1,0,0,0,0,0]
       FROM i, generate_series(0, 14) m`,
    [n],
  );
  await db.end();
}

async function timeGets(url: string, headers: Record<string, string>, samples: number): Promise<ApiRow> {
  const lat: number[] = [];
  for (let i = 0; i < samples + 20; i++) {
    const t0 = performance.now();
    const r = await fetch(url, { headers });
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    if (i >= 20) lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);
  return { request: "", samples, p50ms: percentile(lat, 50), p95ms: percentile(lat, 95), p99ms: percentile(lat, 99) };
}

export async function benchRegistryApi(): Promise<{ rows: ApiRow[]; boardFirstLoadMs: number[] }> {
  const sys = await startBenchSystem({ HMS_DEMO: "1" });
  try {
    await seedServices(sys.db.ownerUrl, 1_000);
    const token = async (username: string) =>
      (
        (await (
          await fetch(`${sys.baseUrl}/api/v1/auth/token`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ username, password: "demo-pass" }),
          })
        ).json()) as { access_token: string }
      ).access_token;
    const auth = { authorization: `Bearer ${await token("operator-a")}` };
    const cases: [string, string, Record<string, string>][] = [
      ["GET /health (anonymous)", "/health", {}],
      ["GET /health (operator, 1,000 services)", "/health", auth],
      ["GET /services (first page, 100)", "/services", auth],
      ["GET /services?limit=500", "/services?limit=500", auth],
      ["GET /api/v1/board (first page)", "/api/v1/board", auth],
    ];
    const rows: ApiRow[] = [];
    for (const [label, path, headers] of cases) {
      rows.push({ ...(await timeGets(`${sys.baseUrl}${path}`, headers, 200)), request: label });
      console.error(`[bench] ${label}: p95 ${rows.at(-1)!.p95ms.toFixed(1)} ms`);
    }

    // The board's first load: sign in as operator-a, then time navigation → every tile of the first page drawn.
    const exe = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
    const browser = await chromium.launch({
      executablePath: existsSync(exe) ? exe : undefined,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    const boardFirstLoadMs: number[] = [];
    try {
      const page = await browser.newPage();
      await page.goto(`${sys.baseUrl}/signin`);
      await page.getByLabel("Username").fill("operator-a");
      await page.getByLabel("Password").fill("demo-pass");
      await page.getByRole("button", { name: /sign in/i }).click();
      await page.waitForURL((u) => !u.pathname.startsWith("/signin"));
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await page.goto(`${sys.baseUrl}/`, { waitUntil: "commit" });
        await page.getByText("svc-0005").first().waitFor({ timeout: 30_000 });
        boardFirstLoadMs.push(performance.now() - t0);
      }
    } finally {
      await browser.close();
    }
    console.error(`[bench] board first load: ${boardFirstLoadMs.map((v) => v.toFixed(0)).join(", ")} ms`);
    return { rows, boardFirstLoadMs };
  } finally {
    await sys.stop();
  }
}

export function formatRegistryApi(r: { rows: ApiRow[]; boardFirstLoadMs: number[] }): string {
  const sorted = [...r.boardFirstLoadMs].sort((a, b) => a - b);
  return [
    "| request | samples | p50 ms | p95 ms | p99 ms |",
    "|---|---|---|---|---|",
    ...r.rows.map(
      (x) => `| ${x.request} | ${x.samples} | ${x.p50ms.toFixed(1)} | ${x.p95ms.toFixed(1)} | ${x.p99ms.toFixed(1)} |`,
    ),
    "",
    `Board first load in headless Chromium (navigation to the first tile of 1,000 services drawn), 5 loads: ` +
      `median ${percentile(sorted, 50).toFixed(0)} ms, worst ${sorted.at(-1)?.toFixed(0)} ms.`,
  ].join("\n");
}
