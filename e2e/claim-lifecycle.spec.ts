import { test, expect, type Page } from "@playwright/test";
import { makePdf } from "../lib/documents/test-pdfs";
import { tokenFor } from "./support/system";

/**
 * The claim review lifecycle in a real browser against the real system: the demo fleet's
 * claim-review consumer (HMS-SVC queue, service token) moves a freshly uploaded claim along, and
 * the veteran's claim page follows it live over server-sent events — QUEUED → IN_REVIEW →
 * DECIDED or NEEDS_INFO — without a reload.
 *
 * To see QUEUED first, agency-a's reviewer is paused (its claim-review demo instances switched
 * to "down", which the demo reviewer obeys) while the claim is uploaded, then switched back on.
 */
const PASSWORD = process.env.HMS_DEMO_PASSWORD ?? "demo-pass";

interface DemoInstance {
  instanceId: string;
  service: string;
  mode: string;
}

async function setReviewerInstances(baseURL: string, token: string, mode: "down" | "ok"): Promise<void> {
  const list = (await (
    await fetch(`${baseURL}/api/v1/demo/instances`, { headers: { authorization: `Bearer ${token}` } })
  ).json()) as { items: DemoInstance[] };
  const reviewers = list.items.filter((i) => i.service === "claim-review");
  expect(reviewers.length).toBeGreaterThan(0);
  for (const i of reviewers) {
    const r = await fetch(`${baseURL}/api/v1/demo/instances/${i.instanceId}/mode`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ mode }),
    });
    expect(r.status).toBe(204);
  }
}

async function signInAsVeteran(page: Page) {
  await page.goto("/signin?callbackUrl=%2Fportal");
  await page.getByLabel("Username").fill("vet-a");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/portal$/);
}

test("a veteran watches a new claim go from Queued through In review to a decision, live", async ({
  page,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const operator = await tokenFor(baseURL!, "operator-a");
  await setReviewerInstances(baseURL!, operator, "down");
  try {
    await signInAsVeteran(page);
    const upload = page.getByRole("region", { name: "Upload a claim document" });
    await upload.getByLabel("Choose a PDF or drag it here").setInputFiles({
      name: "live-claim.pdf",
      mimeType: "application/pdf",
      buffer: Buffer.from(await makePdf({ pages: 1 })),
    });
    const status = upload.getByRole("status");
    await expect(status).toHaveText(/^Upload complete\. Claim CLM-\d+ received\.$/);
    const claimId = /CLM-\d+/.exec((await status.textContent()) ?? "")![0];

    await page.goto(`/portal/claims/${claimId}`);
    await expect(page.getByRole("heading", { level: 1, name: claimId })).toBeVisible();
    // From here on the page must never load again: every change arrives over the stream.
    let navigations = 0;
    page.on("framenavigated", (f) => {
      if (f === page.mainFrame()) navigations++;
    });
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));

    const header = page.locator("header").filter({ has: page.getByRole("heading", { level: 1, name: claimId }) });
    const timeline = page.getByRole("list", { name: "Timeline" });
    await expect(page.getByText("Live — changes appear here as they happen.")).toBeVisible();
    await expect(header).toContainText("Queued");
    await expect(timeline.locator('[aria-current="step"]')).toContainText("Queued");

    // The reviewer comes back: the claim moves on its own while we watch.
    await setReviewerInstances(baseURL!, operator, "ok");
    await expect(header).toContainText(/In review|Decided|Needs information/, { timeout: 45_000 });
    await expect(timeline.getByRole("listitem").filter({ hasText: "In review" }).first()).toBeVisible();
    await expect(header).toContainText(/Decided|Needs information/, { timeout: 30_000 });
    await expect(timeline.locator('[aria-current="step"]')).toContainText(/Decided|Needs information/);
    await expect(timeline).toContainText("service:claim-review");
    // The status change was announced to screen readers.
    await expect(
      page.getByRole("status").filter({ hasText: /Status updated: (Decided|Needs information)\./ }),
    ).toHaveCount(1);

    expect(navigations).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);

    // What the page showed is what the API says.
    const vet = await tokenFor(baseURL!, "vet-a");
    const api = (await (
      await fetch(`${baseURL}/api/v1/claims/status`, {
        method: "POST",
        headers: { authorization: `Bearer ${vet}`, "content-type": "application/json" },
        body: JSON.stringify({ ids: [claimId] }),
      })
    ).json()) as { items: { status: string }[] };
    expect(["DECIDED", "NEEDS_INFO"]).toContain(api.items[0]!.status);
  } finally {
    await setReviewerInstances(baseURL!, operator, "ok");
  }
});
