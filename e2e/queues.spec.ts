import { test, expect, type Page } from "@playwright/test";
import { demoPassword, inspectorPool, tokenFor } from "./support/system";

/**
 * HMS-SVC queues in a real browser against the real system: an admin issues a service token on
 * the service's page (the secret shown once), the service uses it over HTTP, an operator watches
 * the queue on the Queues page and requeues and discards dead letters after confirming (both in
 * the audit trail), and a revoked token stops working.
 */

async function signIn(page: Page, username: string) {
  await page.goto("/signin");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(demoPassword);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("banner")).toContainText(username);
}

function collectConsoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

async function registerService(baseURL: string, name: string): Promise<void> {
  const admin = await tokenFor(baseURL, "admin");
  const r = await fetch(`${baseURL}/api/v1/services`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ name, tenant: "agency-a", instances: [{ url: "http://127.0.0.1:9" }] }),
  });
  expect(r.status).toBe(201);
}

async function issueToken(baseURL: string, service: string, queues: string[]): Promise<string> {
  const admin = await tokenFor(baseURL, "admin");
  const r = await fetch(`${baseURL}/api/v1/services/${service}/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ tenant: "agency-a", queues }),
  });
  expect(r.status).toBe(201);
  return ((await r.json()) as { token: string }).token;
}

function queueCall(baseURL: string, token: string, path: string, body?: unknown) {
  return fetch(`${baseURL}/api/v1/queues/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Sends a message and fails it max-attempts (5) times: it ends in dead letters. */
async function deadMessage(baseURL: string, token: string, queue: string, payload: object): Promise<string> {
  const sent = await queueCall(baseURL, token, `${queue}/messages`, { payload });
  expect(sent.status).toBe(201);
  const { id } = (await sent.json()) as { id: string };
  for (let i = 0; i < 5; i++) {
    const l = await queueCall(baseURL, token, `${queue}/lease`, { max: 1 });
    const { messages } = (await l.json()) as { messages: { id: string }[] };
    expect(messages.map((m) => m.id)).toEqual([id]);
    expect((await queueCall(baseURL, token, `${queue}/messages/${id}/nack`, { error: `boom ${i + 1}` })).status).toBe(
      204,
    );
  }
  return id;
}

test("an operator sees a queue live and requeues and discards dead letters after confirming", async ({
  page,
  baseURL,
}) => {
  const consoleErrors = collectConsoleErrors(page);
  const service = `qsvc-${Date.now().toString(36)}`;
  const queue = `e2e-${Date.now().toString(36)}`;
  await registerService(baseURL!, service);
  const token = await issueToken(baseURL!, service, [queue]);
  const requeued = await deadMessage(baseURL!, token, queue, { claimId: "CLM-E2E-1" });
  const discarded = await deadMessage(baseURL!, token, queue, { claimId: "CLM-E2E-2" });

  await signIn(page, "operator-a");
  await page.goto("/queues");
  await expect(page.getByRole("heading", { level: 1, name: "Queues" })).toBeVisible();
  const row = page.locator(`tr[data-queue="${queue}"]`);
  await expect(row.getByTestId("queue-dead")).toHaveText("2");
  await expect(row.getByTestId("queue-depth")).toHaveText("0");

  // Live: a message sent now shows up without a reload.
  expect((await queueCall(baseURL!, token, `${queue}/messages`, { payload: { live: true } })).status).toBe(201);
  await expect(row.getByTestId("queue-depth")).toHaveText("1", { timeout: 10_000 });

  await row.getByRole("button", { name: `Dead letters of ${queue}: 2` }).click();
  const dead = page.getByRole("region", { name: new RegExp(`Dead letters of ${queue}`) });
  const requeueRow = dead.locator(`tr[data-message-id="${requeued}"]`);
  await expect(requeueRow).toContainText("boom 5");
  await expect(requeueRow).toContainText("5 / 5");

  await requeueRow.getByRole("button", { name: `Requeue message ${requeued}` }).click();
  const dialog = page.getByRole("dialog", { name: "Requeue this message?" });
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await dialog.getByRole("button", { name: "Requeue" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByText(`Message ${requeued} is back on ${queue}`)).toBeVisible();
  await expect(requeueRow).toHaveCount(0);
  await expect(row.getByTestId("queue-depth")).toHaveText("2", { timeout: 10_000 });

  const discardRow = dead.locator(`tr[data-message-id="${discarded}"]`);
  await discardRow.getByRole("button", { name: `Discard message ${discarded}` }).click();
  const confirm = page.getByRole("dialog", { name: "Discard this message?" });
  await confirm.getByRole("button", { name: "Discard" }).click();
  await expect(confirm).toBeHidden();
  await expect(discardRow).toHaveCount(0);
  await expect(dead.getByTestId("dead-empty")).toBeVisible();
  await expect(row.getByTestId("queue-dead")).toHaveText("0", { timeout: 10_000 });

  const db = inspectorPool();
  try {
    const { rows } = await db.query<{ action: string; target: string; actor: string }>(
      `SELECT action, target, actor FROM audit_events WHERE target IN ($1, $2) ORDER BY id`,
      [`${queue}/${requeued}`, `${queue}/${discarded}`],
    );
    expect(rows).toEqual([
      { action: "queue.message_requeued", target: `${queue}/${requeued}`, actor: "operator-a" },
      { action: "queue.message_discarded", target: `${queue}/${discarded}`, actor: "operator-a" },
    ]);
  } finally {
    await db.end();
  }
  expect(consoleErrors).toEqual([]);
});

test("an admin issues a service token on the service page, sees it once, and revokes it", async ({ page, baseURL }) => {
  const consoleErrors = collectConsoleErrors(page);
  const service = `tsvc-${Date.now().toString(36)}`;
  await registerService(baseURL!, service);

  await signIn(page, "admin");
  await page.goto(`/board/services/${service}?tenant=agency-a`);
  const panel = page.getByRole("region", { name: "Service tokens" });
  await expect(panel).toBeVisible();
  await panel.getByLabel("Queues (optional)").fill("Bad Name");
  await panel.getByRole("button", { name: "Issue a token" }).click();
  await expect(panel.getByRole("alert")).toContainText("Not a queue name: Bad, Name");

  await panel.getByLabel("Queues (optional)").fill("claim-review, e2e-panel");
  await panel.getByRole("button", { name: "Issue a token" }).click();
  const secret = (await panel.getByTestId("issued-token-secret").textContent())!.trim();
  expect(secret).toMatch(/^hms_svc_/);
  await expect(panel.getByTestId("issued-token")).toContainText("Queues: claim-review, e2e-panel.");

  // The token works for its queues only.
  expect((await queueCall(baseURL!, secret, "e2e-panel/messages", { payload: { a: 1 } })).status).toBe(201);
  expect((await queueCall(baseURL!, secret, "other/messages", { payload: { a: 1 } })).status).toBe(403);

  // Shown once: after a reload only the prefix is listed.
  await page.reload();
  await expect(panel.getByTestId("issued-token")).toHaveCount(0);
  await expect(panel).toContainText(`${secret.slice(0, 14)}…`);
  await expect(panel).not.toContainText(secret);

  await panel.getByRole("button", { name: `Revoke token ${secret.slice(0, 14)}…` }).click();
  const dialog = page.getByRole("dialog", { name: "Revoke this token?" });
  await dialog.getByRole("button", { name: "Revoke" }).click();
  await expect(dialog).toBeHidden();
  await expect(panel).toContainText("revoked");
  await expect
    .poll(async () => (await queueCall(baseURL!, secret, "e2e-panel/lease", {})).status, { timeout: 10_000 })
    .toBe(401);
  expect(consoleErrors).toEqual([]);
});
