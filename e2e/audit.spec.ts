import { test, expect, type Page } from "@playwright/test";
import { demoPassword, inspectorPool, tokenFor } from "./support/system";

/**
 * The Audit page in a real browser against the real system (web + worker sealing the chain): an
 * operator sees their agency's chain verified and their own sign-in in the list, filters it with
 * the keyboard, exports the same filters as CSV; when a row is tampered with in the database the
 * banner says where the chain breaks and takes them to that row; restoring the row heals it.
 * Veterans are turned away.
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

/** Waits until the worker has sealed every agency-a event (the chain verifies with nothing unsealed). */
async function sealed(baseURL: string): Promise<void> {
  const token = await tokenFor(baseURL, "operator-a");
  await expect
    .poll(
      async () => {
        const r = await fetch(`${baseURL}/api/v1/audit/verify`, { headers: { authorization: `Bearer ${token}` } });
        const v = (await r.json()) as { ok: boolean; unsealed: number };
        return v.ok && v.unsealed === 0;
      },
      { timeout: 20_000 },
    )
    .toBe(true);
}

test("an operator sees the chain verified, filters the events and exports them", async ({ page, baseURL }) => {
  const errors = collectConsoleErrors(page);
  await signIn(page, "operator-a");
  await sealed(baseURL!);
  await page.goto("/audit");
  await expect(page.getByRole("heading", { name: "Audit trail", level: 1 })).toBeVisible();
  await expect(page.getByTestId("chain-status")).toHaveAttribute("data-chain", "ok", { timeout: 20_000 });
  await expect(page.getByTestId("chain-status")).toContainText("Chain verified");

  // Keyboard only: type the filter and press Enter.
  await page.getByLabel("Action").fill("auth.*");
  await page.getByLabel("Actor").fill("operator-a");
  await page.getByLabel("Actor").press("Enter");
  await expect(page).toHaveURL(/action=auth\.\*/);
  const rows = page.getByRole("table").getByRole("row");
  await expect(rows.nth(1)).toContainText("operator-a");
  await expect(rows.nth(1)).toContainText("auth.");

  const href = await page.getByRole("link", { name: /Export CSV/ }).getAttribute("href");
  expect(href).toContain("/api/v1/audit/events.csv?");
  expect(href).toContain("actor=operator-a");
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: /Export CSV/ }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^audit-agency-a-\d{4}-\d\d-\d\d\.csv$/);

  // A filter that matches nothing says so and offers the way back.
  await page.getByLabel("Target").fill("no-such-target-anywhere");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(page.getByTestId("audit-empty")).toContainText("No audit events match these filters.");
  await page.getByTestId("audit-empty").getByRole("button", { name: "Clear filters" }).click();
  await expect(rows.nth(1)).toBeVisible();
  expect(errors).toEqual([]);
});

test("a tampered row breaks the chain at that row, and the banner shows it", async ({ page, baseURL }) => {
  await signIn(page, "operator-a");
  await sealed(baseURL!);
  const db = inspectorPool();
  try {
    const { rows } = await db.query<{ seq: string; event_id: string; target: string | null }>(
      `SELECT s.seq, s.event_id, e.target FROM audit_seals s JOIN audit_events e ON e.id = s.event_id
        WHERE s.chain = 'agency-a' ORDER BY s.seq DESC LIMIT 1 OFFSET 1`,
    );
    const victim = rows[0]!;
    await db.query(`UPDATE audit_events SET target = 'forged' WHERE id = $1`, [victim.event_id]);
    try {
      await page.goto("/audit");
      const banner = page.getByTestId("chain-status");
      await expect(banner).toHaveAttribute("data-chain", "broken", { timeout: 20_000 });
      await expect(banner).toContainText(`Chain BROKEN at seal ${victim.seq}`);
      await expect(banner).toContainText(`event ${victim.event_id}`);
      await banner.getByRole("button", { name: `Show event ${victim.event_id} in the list` }).click();
      const row = page.locator(`#audit-event-${victim.event_id}`);
      await expect(row).toBeVisible();
      await expect(row).toHaveAttribute("aria-current", "true");
      await expect(row).toContainText("forged");
    } finally {
      await db.query(`UPDATE audit_events SET target = $2 WHERE id = $1`, [victim.event_id, victim.target]);
    }
    await page.getByRole("button", { name: "Verify again" }).click();
    await expect(page.getByTestId("chain-status")).toHaveAttribute("data-chain", "ok", { timeout: 20_000 });
  } finally {
    await db.end();
  }
});

test("veterans are sent to their claims", async ({ page }) => {
  await signIn(page, "vet-a");
  await page.goto("/audit");
  await expect(
    page.getByRole("heading", { name: "The audit trail is for operators and administrators" }),
  ).toBeVisible();
});
