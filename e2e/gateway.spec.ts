import { test, expect, type Page } from "@playwright/test";
import { demoPassword, tokenFor } from "./support/system";

/**
 * The gateway in the running system (demo mode: demo fleet + demo traffic): a call through the
 * gateway, a demo instance switched to "fail" tripping its breaker and failing doc-service over
 * to the secondary region (API, Circuits page and board tile), an operator forcing and releasing
 * the breaker from the Circuits page, and the Prometheus endpoint.
 */
const LONG = 45_000;

async function signIn(page: Page, username: string) {
  await page.goto("/signin");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(demoPassword);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("banner")).toContainText(username);
}

interface DemoInstance {
  instanceId: string;
  service: string;
  region: string;
  url: string;
  mode: string;
}

test("a failing primary trips its breaker, doc-service fails over, and an operator forces and releases it", async ({
  page,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const op = await tokenFor(baseURL!, "operator-a");
  const gw = (path: string) =>
    fetch(`${baseURL}/api/v1/gw/doc-service${path}`, { headers: { authorization: `Bearer ${op}` } });

  const first = await gw("/documents/1");
  expect(first.status).toBe(200);
  expect(first.headers.get("x-hms-region")).toBe("primary");
  expect(first.headers.get("traceparent")).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  expect(await first.json()).toMatchObject({ ok: true, instance: "doc-service-primary" });

  const list = (await (
    await fetch(`${baseURL}/api/v1/demo/instances`, { headers: { authorization: `Bearer ${op}` } })
  ).json()) as { items: DemoInstance[] };
  const primary = list.items.find((i) => i.service === "doc-service" && i.region === "primary")!;
  const setMode = (mode: string) =>
    fetch(`${baseURL}/api/v1/demo/instances/${primary.instanceId}/mode`, {
      method: "POST",
      headers: { authorization: `Bearer ${op}`, "content-type": "application/json" },
      body: JSON.stringify({ mode }),
    });
  expect((await setMode("fail")).status).toBe(204);
  try {
    // Our calls (and the demo traffic's) fail on the primary until its breaker opens; then the
    // secondary answers, and says so.
    await expect
      .poll(
        async () => {
          const r = await gw("/status");
          return `${r.status} ${r.headers.get("x-hms-region")} ${r.headers.get("x-hms-failover") ? "failover" : ""}`;
        },
        { timeout: LONG, intervals: [200] },
      )
      .toBe("200 secondary failover");

    const circuits = (await (
      await fetch(`${baseURL}/api/v1/circuits?service=doc-service`, { headers: { authorization: `Bearer ${op}` } })
    ).json()) as { items: { instanceId: string; state: string; reason: string }[] };
    expect(circuits.items.find((c) => c.instanceId === primary.instanceId)?.state).toBe("open");

    // The board tile says failover; the Circuits page shows the open breaker.
    await signIn(page, "operator-a");
    const tile = page.getByRole("listitem").filter({ hasText: "doc-service" }).first();
    await expect(tile).toContainText(/Failover/, { timeout: LONG });
    await page.goto("/circuits");
    await expect(page.getByRole("heading", { name: "Circuit breakers" })).toBeVisible();
    const row = page.getByRole("row").filter({ hasText: primary.url });
    await expect(row).toContainText(/open/i);

    // Force it closed (asks first), then release it.
    await row.getByRole("button", { name: `Force closed: breaker of ${primary.url}` }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Force closed" }).click();
    await expect(
      page
        .getByRole("status")
        .filter({ hasText: /forced|Forced/ })
        .first(),
    ).toBeVisible();
    await expect
      .poll(async () => {
        const r = await fetch(`${baseURL}/api/v1/circuits?service=doc-service`, {
          headers: { authorization: `Bearer ${op}` },
        });
        const body = (await r.json()) as { items: { instanceId: string; forced: string | null }[] };
        return body.items.find((c) => c.instanceId === primary.instanceId)?.forced;
      })
      .toBe("closed");
    await row.getByRole("button", { name: `Release: breaker of ${primary.url}` }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Release" }).click();
    await expect
      .poll(async () => {
        const r = await fetch(`${baseURL}/api/v1/circuits?service=doc-service`, {
          headers: { authorization: `Bearer ${op}` },
        });
        const body = (await r.json()) as { items: { instanceId: string; forced: string | null }[] };
        return body.items.find((c) => c.instanceId === primary.instanceId)?.forced ?? "none";
      })
      .toBe("none");
  } finally {
    await setMode("ok");
  }
});

test("a veteran cannot reach the agency's internal services through the gateway; staff can", async ({ baseURL }) => {
  const vet = await tokenFor(baseURL!, "vet-a");
  const op = await tokenFor(baseURL!, "operator-a");
  const asVet = await fetch(`${baseURL}/api/v1/gw/claim-review/x`, { headers: { authorization: `Bearer ${vet}` } });
  expect(asVet.status).toBe(403);
  expect(asVet.headers.get("content-type")).toBe("application/problem+json");
  expect(((await asVet.json()) as { code: string }).code).toBe("gateway_forbidden");
  const asOp = await fetch(`${baseURL}/api/v1/gw/claim-review/status`, { headers: { authorization: `Bearer ${op}` } });
  expect(asOp.status).not.toBe(403);
});

test("GET /api/metrics answers Prometheus text to an operator and 401 to nobody", async ({ baseURL }) => {
  const op = await tokenFor(baseURL!, "operator-a");
  await fetch(`${baseURL}/api/v1/gw/doc-service/x`, { headers: { authorization: `Bearer ${op}` } });
  const anon = await fetch(`${baseURL}/api/metrics`);
  expect(anon.status).toBe(401);
  expect(anon.headers.get("content-type")).toBe("application/problem+json");
  const r = await fetch(`${baseURL}/api/metrics`, { headers: { authorization: `Bearer ${op}` } });
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toMatch(/^text\/plain/);
  const text = await r.text();
  expect(text).toMatch(/hms_gateway_requests_total\{[^}]*tenant="agency-a"[^}]*service="doc-service"/);
  expect(text).toMatch(/hms_circuit_state\{/);
});

test("the Traffic page charts the demo traffic, and switching the range keeps it in the URL", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, "operator-a");
  await page.goto("/traffic");
  await expect(page.getByRole("heading", { name: "Traffic", exact: true })).toBeVisible();
  // The demo traffic goes through the gateway every second; the recorder flushes every 5 s.
  await expect(page.getByText("Requests per minute").first()).toBeVisible({ timeout: LONG });
  await expect(page.locator("figure svg").first()).toBeVisible();
  await page.getByRole("button", { name: "24 h" }).click();
  await expect(page).toHaveURL(/range=24h/);
  await expect(page.getByRole("button", { name: "24 h" })).toHaveAttribute("aria-pressed", "true");
});

test("an admin sets a tenant's rate limit in the form; over it, the gateway answers 429", async ({ page, baseURL }) => {
  test.setTimeout(120_000);
  const op = await tokenFor(baseURL!, "operator-b");
  await signIn(page, "admin");
  await page.goto("/admin/limits");
  await expect(page.getByRole("heading", { name: "Rate limits" })).toBeVisible();
  await page.getByLabel("Agency", { exact: true }).selectOption("agency-b");
  await page.getByLabel("Requests per second", { exact: true }).fill("0.2");
  await page.getByLabel("Burst", { exact: true }).fill("1");
  await page.getByRole("button", { name: "Save limit" }).click();
  await expect(
    page
      .getByRole("status")
      .filter({ hasText: /agency-b/ })
      .first(),
  ).toBeVisible();
  try {
    // Demo traffic of agency-b uses its limit too: somewhere in a few calls the gateway refuses.
    await expect
      .poll(
        async () => {
          const r = await fetch(`${baseURL}/api/v1/gw/notify/ping`, { headers: { authorization: `Bearer ${op}` } });
          return r.status === 429 ? `${r.headers.get("content-type")} ${r.headers.get("ratelimit-policy")}` : r.status;
        },
        { timeout: 20_000, intervals: [100] },
      )
      .toBe('application/problem+json "tenant";q=1;w=5');
  } finally {
    const admin = await tokenFor(baseURL!, "admin");
    await fetch(`${baseURL}/api/v1/tenants/agency-b/limits`, {
      method: "PUT",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ rps: 50, burst: 100 }),
    });
  }
});
