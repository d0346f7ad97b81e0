import { createHash } from "node:crypto";
import { test, expect, type Page } from "@playwright/test";
import { makePdf, notAPdf } from "../lib/documents/test-pdfs";

/**
 * The veteran portal in a real browser against the real system (fresh database, demo data):
 * sign-in, upload with progress, "My claims", the claim page, the server's plain-words errors,
 * and who may see what.
 */

const PASSWORD = process.env.HMS_DEMO_PASSWORD ?? "demo-pass";
const UPLOAD_REGION = "Upload a claim document";
const FILE_INPUT = "Choose a PDF or drag it here";

async function signInThroughForm(page: Page, username: string, password = PASSWORD) {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

async function signInAsVeteran(page: Page, username = "vet-a") {
  await page.goto("/signin?callbackUrl=%2Fportal");
  await signInThroughForm(page, username);
  await expect(page).toHaveURL(/\/portal$/);
  await expect(page.getByRole("heading", { level: 1, name: "Your disability claims" })).toBeVisible();
}

function pdfFile(name: string, bytes: Uint8Array, mimeType = "application/pdf") {
  return { name, mimeType, buffer: Buffer.from(bytes) };
}

test("a veteran signs in, uploads a claim PDF, finds it in My claims and follows it on its page", async ({ page }) => {
  // Signed out, the portal sends you to sign in and brings you back afterwards.
  await page.goto("/portal");
  await expect(page).toHaveURL(/\/signin\?callbackUrl=%2Fportal$/);
  await signInThroughForm(page, "vet-a");
  await expect(page).toHaveURL(/\/portal$/);
  await expect(page.getByRole("banner")).toContainText("vet-a");

  // Hold the request briefly on its way to the real server, so the in-flight state can be seen.
  let releaseUpload = () => {};
  const uploadHeld = new Promise<void>((resolve) => (releaseUpload = resolve));
  await page.route("**/api/v1/claims", async (route) => {
    if (route.request().method() === "POST") await uploadHeld;
    await route.continue();
  });

  const pdf = await makePdf({ pages: 3 });
  const upload = page.getByRole("region", { name: UPLOAD_REGION });
  await upload.getByLabel(FILE_INPUT).setInputFiles(pdfFile("my-claim.pdf", pdf));

  const progress = upload.getByRole("progressbar", { name: "Upload progress" });
  await expect(progress).toBeVisible();
  await expect(progress).toHaveAttribute("aria-valuenow", /^\d{1,3}$/);
  await expect(upload.getByText("my-claim.pdf", { exact: true })).toBeVisible();
  releaseUpload();

  const status = upload.getByRole("status");
  await expect(status).toHaveText(/^Upload complete\. Claim CLM-\d+ received\.$/);
  await expect(progress).toBeHidden();
  const claimId = /CLM-\d+/.exec((await status.textContent()) ?? "")?.[0];
  expect(claimId).toBeTruthy();
  if (!claimId) return;
  // The 201 answer says QUEUED.
  await expect(upload.getByText(/^Status:/)).toHaveText(/^Status:\s*\W?\s*Queued$/);

  // The list refreshes by itself and shows the new claim.
  const row = page.getByRole("table", { name: "My claims" }).getByRole("row").filter({ hasText: claimId });
  await expect(row).toHaveCount(1);
  const cells = row.getByRole("cell");
  // Status, submitted, pages, size. A demo reviewer may already have picked the claim up.
  await expect(cells.nth(0)).toHaveText(/^.?\s*(Queued|In review|Decided|Needs information)$/);
  await expect(cells.nth(2)).toHaveText("3");
  await expect(cells.nth(3)).toHaveText(/\d(\.\d)? (KB|MB|bytes)$/);

  // Its page: heading, status, timeline starting with QUEUED, document facts, byte-identical download.
  await row.getByRole("link", { name: claimId }).click();
  await expect(page).toHaveURL(new RegExp(`/portal/claims/${claimId}$`));
  await expect(page.getByRole("heading", { level: 1, name: claimId })).toBeVisible();
  const timeline = page.getByRole("list", { name: "Timeline" });
  await expect(timeline.getByRole("listitem").first()).toContainText("Queued");
  await expect(timeline.getByRole("listitem").first()).toContainText("We received your document");
  await expect(timeline.getByRole("listitem").last()).toContainText(/Decision \(not yet\)|Decided|Needs information/);

  const sha256 = createHash("sha256").update(pdf).digest("hex");
  const docSection = page.getByRole("region", { name: "Your document" });
  await expect(docSection).toContainText(sha256);
  await expect(docSection.getByRole("definition").first()).toHaveText("3");
  const download = docSection.getByRole("link", { name: /Download your PDF/ });
  await expect(download).toHaveAttribute("href", `/api/v1/claims/${claimId}/document`);
  const stored = await page.request.get(`/api/v1/claims/${claimId}/document`);
  expect(stored.status()).toBe(200);
  expect(Buffer.from(await stored.body()).equals(Buffer.from(pdf))).toBe(true);
});

test("a file that is not really a PDF gets the server's plain-words message and creates no claim", async ({ page }) => {
  await signInAsVeteran(page);

  // What the server says about these bytes (same session cookie as the page).
  // (A cookie-authenticated write must carry our Origin, as the browser's own requests do.)
  const origin = new URL(page.url()).origin;
  const direct = await page.request.post("/api/v1/claims", {
    data: Buffer.from(notAPdf()),
    headers: { "content-type": "application/pdf", origin },
  });
  expect(direct.status()).toBe(422);
  const problem = (await direct.json()) as { code: string; detail: string };
  expect(problem.code).toBe("pdf_not_pdf");
  expect(problem.detail.length).toBeGreaterThan(10);

  const table = page.getByRole("table", { name: "My claims" });
  const emptyState = page.getByText("No claims yet — drop your claim PDF above to start.");
  await expect(table.or(emptyState)).toBeVisible();
  const rowsBefore = (await table.isVisible()) ? await table.getByRole("row").count() : 0;

  const upload = page.getByRole("region", { name: UPLOAD_REGION });
  await upload.getByLabel(FILE_INPUT).setInputFiles(pdfFile("scan.pdf", notAPdf()));
  const alert = upload.getByRole("alert");
  await expect(alert).toContainText("We couldn’t accept “scan.pdf”.");
  await expect(alert).toContainText(problem.detail);
  await expect(upload.getByText(/Upload complete/)).toHaveCount(0);

  await page.reload();
  await expect(table.or(emptyState)).toBeVisible();
  const rowsAfter = (await table.isVisible()) ? await table.getByRole("row").count() : 0;
  expect(rowsAfter).toBe(rowsBefore);
});

test("a large upload shows real progress and can be cancelled, leaving nothing behind", async ({ page }) => {
  await signInAsVeteran(page);
  const table = page.getByRole("table", { name: "My claims" });
  const emptyState = page.getByText("No claims yet — drop your claim PDF above to start.");
  await expect(table.or(emptyState)).toBeVisible();
  const rowsBefore = (await table.isVisible()) ? await table.getByRole("row").count() : 0;

  // A slow uplink (Chromium's network emulation), so the upload takes seconds instead of milliseconds.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: 256 * 1024,
  });

  const upload = page.getByRole("region", { name: UPLOAD_REGION });
  const big = await makePdf({ pages: 2, targetBytes: 4 * 1024 * 1024 });
  await upload.getByLabel(FILE_INPUT).setInputFiles(pdfFile("big-claim.pdf", big));
  const progress = upload.getByRole("progressbar", { name: "Upload progress" });
  // Part-way: more than nothing, less than everything.
  await expect(progress).toHaveAttribute("aria-valuenow", /^([1-9]|[1-8]\d)$/);
  await expect(upload.getByText(/^\d{1,2}% · [\d.]+ (KB|MB) of [\d.]+ MB sent$/)).toBeVisible();

  await upload.getByRole("button", { name: "Cancel upload" }).click();
  await expect(upload.getByRole("status")).toHaveText("Upload cancelled. Nothing was saved.");
  await expect(progress).toBeHidden();

  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  });
  await page.reload();
  await expect(table.or(emptyState)).toBeVisible();
  const rowsAfter = (await table.isVisible()) ? await table.getByRole("row").count() : 0;
  expect(rowsAfter).toBe(rowsBefore);
});

test("a file that is plainly not a PDF is refused at once, without sending it", async ({ page }) => {
  await signInAsVeteran(page);
  const posts: string[] = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && r.url().includes("/api/v1/claims")) posts.push(r.url());
  });

  const upload = page.getByRole("region", { name: UPLOAD_REGION });
  await upload
    .getByLabel(FILE_INPUT)
    .setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("my claim notes") });
  await expect(upload.getByRole("alert")).toContainText("“notes.txt” is not a PDF.");
  expect(posts).toEqual([]);
});

test("the file picker works from the keyboard", async ({ page }) => {
  await signInAsVeteran(page);
  const upload = page.getByRole("region", { name: UPLOAD_REGION });
  const input = upload.getByLabel(FILE_INPUT);
  await input.focus();
  await expect(input).toBeFocused();

  const chooser = page.waitForEvent("filechooser");
  await page.keyboard.press("Enter");
  await (await chooser).setFiles(pdfFile("keyboard.pdf", await makePdf({ pages: 1 })));
  await expect(upload.getByRole("status")).toHaveText(/^Upload complete\. Claim CLM-\d+ received\.$/);
});

test("signing in with a wrong password says so and keeps you on the sign-in page", async ({ page }) => {
  await page.goto("/signin");
  await signInThroughForm(page, "vet-a", "not-the-password");
  await expect(page.getByRole("main").getByRole("alert")).toHaveText("Unknown username or wrong password.");
  await expect(page).toHaveURL(/\/signin/);
  await expect(page.getByLabel("Password")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Password")).toHaveValue("");
  await expect(page.getByRole("banner")).not.toContainText("vet-a");
});

test("an operator who opens the portal is sent home with a 'veterans only' message", async ({ page }) => {
  await page.goto("/signin");
  await signInThroughForm(page, "operator-a");
  await expect(page.getByRole("heading", { level: 1, name: "Service board" })).toBeVisible();

  await page.goto("/portal");
  await expect(page).toHaveURL(/\/\?denied=portal$/);
  await expect(page.getByRole("main").getByRole("alert")).toContainText("The claims portal is for veterans only");
  await expect(page.getByRole("region", { name: UPLOAD_REGION })).toHaveCount(0);

  await page.goto("/portal/claims/CLM-1");
  await expect(page).toHaveURL(/\/\?denied=portal$/);
});

test("a veteran cannot open another veteran's claim", async ({ page, browser }) => {
  await signInAsVeteran(page, "vet-a");
  const pdf = Buffer.from(await makePdf({ pages: 1 }));
  const crossSite = await page.request.post("/api/v1/claims", {
    data: pdf,
    headers: { "content-type": "application/pdf", origin: "https://evil.example" },
  });
  expect(crossSite.status()).toBe(403);
  expect((await crossSite.json()).code).toBe("origin_forbidden");
  const created = await page.request.post("/api/v1/claims", {
    data: pdf,
    headers: { "content-type": "application/pdf", origin: new URL(page.url()).origin },
  });
  expect(created.status()).toBe(201);
  const { claim_id: claimId } = (await created.json()) as { claim_id: string };

  const other = await browser.newContext();
  try {
    const vetB = await other.newPage();
    await signInAsVeteran(vetB, "vet-b");
    await expect(vetB.getByRole("table", { name: "My claims" }).or(vetB.getByText(/^No claims yet/))).toBeVisible();
    await expect(vetB.getByRole("link", { name: claimId, exact: true })).toHaveCount(0);

    await vetB.goto(`/portal/claims/${claimId}`);
    await expect(vetB.getByRole("main").getByRole("alert")).toContainText("We couldn’t find this claim.");
    await expect(vetB.getByText(/SHA-256/)).toHaveCount(0);
  } finally {
    await other.close();
  }
});
