import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test, expect, type Page } from "@playwright/test";
import { demoPassword, tokenFor } from "./support/system";

/**
 * The operator board and the admin registry in a real browser against the real system (fresh
 * database, demo mode, the worker probing for real): registering a service through the form
 * (with the server's field errors and the SSRF refusal next to the field, and a test probe),
 * the board following an upstream from green to red and back, an operator draining an
 * instance, and a registry.yml preview that points at the broken line.
 */

const LONG = 45_000;

async function signIn(page: Page, username: string) {
  await page.goto("/signin");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(demoPassword);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("banner")).toContainText(username);
}

/** Console errors other than the browser's own "Failed to load resource" lines (expected 4xx answers). */
function collectConsoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

/** A tiny upstream on 127.0.0.1 (allow-listed in demo mode) whose /health answers 200; it can go away and come back. */
class Upstream {
  private server: Server | null = null;
  port = 0;

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      if (req.url === "/health") {
        res.writeHead(200, { "content-type": "application/health+json" });
        res.end(JSON.stringify({ status: "pass" }));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
}

function tileFor(page: Page, name: string) {
  return page
    .getByRole("list", { name: "Services, worst first" })
    .getByRole("listitem")
    .filter({ has: page.getByRole("link", { name, exact: true }) });
}

test("an admin registers a service through the form and the board follows it from green to red and back", async ({
  page,
}) => {
  test.setTimeout(240_000);
  const consoleErrors = collectConsoleErrors(page);
  const upstream = new Upstream();
  await upstream.start();
  const name = `e2e-${Date.now().toString(36)}`;

  try {
    await signIn(page, "admin");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Registry" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Service registry" })).toBeVisible();
    await page.getByRole("link", { name: "Register a service" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Register a service" })).toBeVisible();

    const nameInput = page.getByLabel("Name", { exact: true });
    const instance = page.getByRole("group", { name: "Instance 1" });
    const urlInput = instance.getByLabel("URL");

    // A global admin names the agency; a bad name and a cloud-metadata URL come back from the server.
    await page.getByLabel("Agency").selectOption("agency-a");
    await nameInput.fill("Bad_Name!");
    await urlInput.fill("http://169.254.169.254");
    await page.getByLabel("Check interval (seconds)").fill("5");
    await page.getByLabel("Failure threshold").fill("2");
    await page.getByRole("button", { name: "Register service" }).click();

    await expect(page.getByRole("alert", { name: "There is a problem" })).toBeVisible();
    await expect(nameInput).toHaveAttribute("aria-invalid", "true");
    await expect(nameInput).toHaveAccessibleDescription(/Name must be a DNS label/);

    await nameInput.fill(name);
    await page.getByRole("button", { name: "Register service" }).click();
    await expect(urlInput).toHaveAttribute("aria-invalid", "true");
    await expect(urlInput).toHaveAccessibleDescription(/169\.254\.169\.254 is a link-local address/);
    await expect(nameInput).not.toHaveAttribute("aria-invalid", "true");

    // "Test this URL now" before saving: the refusal, then a real pass against the upstream.
    const probeOutcome = instance.getByTestId("probe-outcome");
    await instance.getByRole("button", { name: "Test this URL now" }).click();
    await expect(probeOutcome).toContainText(/Not tested: .*link-local/);
    await urlInput.fill(upstream.url);
    await expect(probeOutcome).toHaveText("");
    await instance.getByRole("button", { name: "Test this URL now" }).click();
    await expect(probeOutcome).toHaveText(/^Passes \(HTTP 200, \d+ ms\)/);

    await page.getByRole("button", { name: "Register service" }).click();
    await expect(page).toHaveURL(new RegExp(`/board/services/${name}\\?tenant=agency-a$`));
    await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
    const instances = page.getByRole("table", { name: "Instances" });
    await expect(instances.getByRole("row").filter({ hasText: upstream.url })).toHaveCount(1);

    // The board: find it by name, watch it turn green.
    await page.getByRole("link", { name: "Service board" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Service board" })).toBeVisible();
    await page.getByLabel("Find a service by name").fill(name);
    await expect(page).toHaveURL(new RegExp(`q=${name}`));
    const tile = tileFor(page, name);
    await expect(tile).toHaveCount(1);
    await expect(tile.getByText("Healthy", { exact: true })).toBeVisible({ timeout: LONG });
    await expect(tile).toContainText("1/1 healthy");
    await expect(tile).toContainText(/Last check\s*(just now|\d+ s ago)/);

    // The upstream goes away: red within a few checks, with the reason on the tile.
    await upstream.stop();
    await expect(tile.getByText("Down", { exact: true })).toBeVisible({ timeout: LONG });
    await expect(tile.getByTestId("tile-reason")).toHaveText(/\S{3,}/);
    await expect(tile).toContainText("0/1 healthy");
    await expect(page.getByRole("button", { name: /^Down: [1-9]\d* services?$/ })).toBeVisible();

    // It comes back: green again.
    await upstream.start();
    await expect(tile.getByText("Healthy", { exact: true })).toBeVisible({ timeout: LONG });
    await expect(tile.getByTestId("tile-reason")).toHaveCount(0);

    // The status filter narrows the grid: this service is not "Down" any more.
    await page.getByRole("button", { name: /^Down: / }).click();
    await expect(tile).toHaveCount(0);
    await page.getByRole("button", { name: /^Healthy: / }).click();
    await expect(tile).toHaveCount(1);

    expect(consoleErrors).toEqual([]);
  } finally {
    await upstream.stop();
  }
});

test("an operator drains an instance after confirming, and enables it again", async ({ page, baseURL }) => {
  const consoleErrors = collectConsoleErrors(page);
  const name = `drain-${Date.now().toString(36)}`;
  const admin = await tokenFor(baseURL!, "admin");
  const created = await fetch(`${baseURL}/api/v1/services`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({
      name,
      tenant: "agency-a",
      instances: [
        { url: "http://127.0.0.1:9", region: "primary" },
        { url: "http://127.0.0.1:10", region: "secondary" },
      ],
    }),
  });
  expect(created.status).toBe(201);

  await signIn(page, "operator-a");
  await expect(page.getByRole("heading", { level: 1, name: "Service board" })).toBeVisible();
  // An operator has no Registry link and no agency picker.
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Registry" })).toHaveCount(0);
  await expect(page.getByLabel("Agency")).toHaveCount(0);

  await page.getByLabel("Find a service by name").fill(name);
  await expect(page).toHaveURL(new RegExp(`q=${name}`));
  await tileFor(page, name).getByRole("link", { name, exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();

  const row = page.getByRole("table", { name: "Instances" }).getByRole("row").filter({ hasText: "127.0.0.1:10" });
  await row.getByRole("button", { name: "Drain http://127.0.0.1:10" }).click();
  const dialog = page.getByRole("dialog", { name: "Drain this instance?" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();

  // Cancel changes nothing.
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await expect(row.getByRole("button", { name: "Drain http://127.0.0.1:10" })).toBeVisible();

  await row.getByRole("button", { name: "Drain http://127.0.0.1:10" }).click();
  await dialog.getByRole("button", { name: "Drain instance" }).click();
  await expect(dialog).toBeHidden();
  await expect(row).toContainText("Drained");
  await expect(page.getByText("http://127.0.0.1:10 is drained")).toBeVisible();

  const enabledOf = async () => {
    const r = await page.request.get(`/api/v1/services/${name}`);
    expect(r.status()).toBe(200);
    const body = (await r.json()) as { instances: { url: string; enabled: boolean }[] };
    return body.instances.find((i) => i.url === "http://127.0.0.1:10")?.enabled;
  };
  expect(await enabledOf()).toBe(false);

  await row.getByRole("button", { name: "Enable http://127.0.0.1:10" }).click();
  await expect(row.getByRole("button", { name: "Drain http://127.0.0.1:10" })).toBeVisible();
  expect(await enabledOf()).toBe(true);

  expect(consoleErrors).toEqual([]);
});

test("a registry.yml preview points at the broken line and column, and a good file is previewed then applied", async ({
  page,
}) => {
  const consoleErrors = collectConsoleErrors(page);
  await signIn(page, "admin");
  await page.goto("/admin/registry");
  await expect(page.getByRole("heading", { level: 1, name: "Import registry.yml" })).toBeVisible();

  const name = `yml-${Date.now().toString(36)}`;
  const broken = [
    "services:",
    `  - name: ${name}`,
    "    tenant: agency-a",
    "    instances:",
    "      - url: http://127.0.0.1:9",
    "     region: primary",
    "",
  ].join("\n");
  const textarea = page.getByLabel("registry.yml", { exact: true });
  await textarea.fill(broken);
  await page.getByRole("button", { name: "Preview changes" }).click();

  const problems = page.getByRole("alert").filter({ hasText: "nothing was imported" });
  await expect(problems).toBeVisible();
  const first = problems.getByTestId("yaml-error").first();
  await expect(first).toHaveText(/^\d+:\d+ — \S/);
  const [, line, column] = /^(\d+):(\d+)/.exec((await first.textContent()) ?? "") ?? [];
  expect(Number(line)).toBe(6);

  // Choosing the error puts the caret on that line and column.
  await first.click();
  await expect(textarea).toBeFocused();
  const caret = await textarea.evaluate((el: HTMLTextAreaElement) => el.selectionStart);
  const lines = broken.split("\n");
  const expectedOffset = lines.slice(0, Number(line) - 1).reduce((n, l) => n + l.length + 1, 0) + Number(column) - 1;
  expect(caret).toBe(expectedOffset);

  // Fixed, it previews as one creation — and nothing exists until "Apply".
  await textarea.fill(broken.replace("     region: primary", "        region: primary"));
  await page.getByRole("button", { name: "Preview changes" }).click();
  const plan = page.getByRole("region", { name: "2. What the import will do" });
  await expect(plan.getByRole("list", { name: "Services to create" })).toHaveText(name);
  expect((await page.request.get(`/api/v1/services/${name}?tenant=agency-a`)).status()).toBe(404);

  await plan.getByRole("button", { name: "Apply 1 change" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Imported" })).toContainText("Created 1");
  expect((await page.request.get(`/api/v1/services/${name}?tenant=agency-a`)).status()).toBe(200);

  expect(consoleErrors).toEqual([]);
});
