import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { AppError, type ErrorCode } from "../http/app-error";
import { inspectPdf } from "./pdf-inspect";
import { scanRiskyNames } from "./risky-features";
import {
  garbagePdf,
  hexObjectStreamPdf,
  makePdf,
  notAPdf,
  rawOnePagePdf,
  truncatedPdf,
  zeroPagePdf,
  type MakePdfOptions,
} from "./test-pdfs";

const fixture = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));
const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/** The AppError an inspection rejects with (fails the test if it resolves or throws something else). */
async function rejection(bytes: Uint8Array, opts?: Parameters<typeof inspectPdf>[1]): Promise<AppError> {
  const outcome: unknown = await inspectPdf(bytes, opts).then(
    () => "resolved",
    (e: unknown) => e,
  );
  if (!(outcome instanceof AppError)) throw new Error(`expected an AppError, got ${String(outcome)}`);
  return outcome;
}

async function rejectionCode(bytes: Uint8Array, opts?: Parameters<typeof inspectPdf>[1]): Promise<ErrorCode> {
  return (await rejection(bytes, opts)).code;
}

beforeAll(async () => {
  await inspectPdf(await makePdf()); // loads pdf.js once, outside the per-test timeout
}, 60_000);

describe("inspectPdf: valid documents", () => {
  it("reports one US Letter page, the version and no risky features for a plain PDF", async () => {
    const report = await inspectPdf(await makePdf());
    expect(report).toEqual({
      pageCount: 1,
      maxPageWidthIn: 8.5,
      maxPageHeightIn: 11,
      riskyFeatures: [],
      pdfVersion: "1.7",
    });
  });

  it("counts every page of a 3-page PDF", async () => {
    expect((await inspectPdf(await makePdf({ pages: 3 }))).pageCount).toBe(3);
  });

  it("accepts a UTF-8 BOM and whitespace before the %PDF- header", async () => {
    const report = await inspectPdf(concat(Uint8Array.of(0xef, 0xbb, 0xbf), latin1(" \r\n"), await makePdf()));
    expect(report.pageCount).toBe(1);
  });

  it("accepts whitespace after the final %%EOF", async () => {
    const report = await inspectPdf(concat(await makePdf(), latin1("\r\n\n   \n")));
    expect(report.pageCount).toBe(1);
  });

  it("reports the size as displayed for a page rotated by 90 degrees", async () => {
    const report = await inspectPdf(rawOnePagePdf({ pageExtra: "/Rotate 90" }));
    expect([report.maxPageWidthIn, report.maxPageHeightIn]).toEqual([11, 8.5]);
  });

  it("leaves the caller's bytes untouched (pdf.js would otherwise detach the buffer)", async () => {
    const bytes = await makePdf({ pages: 2 });
    const before = bytes.slice();
    await inspectPdf(bytes);
    expect(bytes.byteLength).toBe(before.byteLength);
    expect(Buffer.from(bytes).equals(Buffer.from(before))).toBe(true);
  });

  it("accepts a Node Buffer (a pooled slice) and leaves it and its pool intact", async () => {
    const pdf = await makePdf();
    const pooled = Buffer.concat([Buffer.from("prefix"), Buffer.from(pdf)]).subarray(6);
    const copy = Buffer.from(pooled);
    expect((await inspectPdf(pooled)).pageCount).toBe(1);
    expect(pooled.equals(copy)).toBe(true);
    expect(pooled.buffer.byteLength).toBeGreaterThan(0);
  });

  it("inspects several PDFs concurrently, each with its own result", async () => {
    const docs = await Promise.all([1, 2, 3, 4].map((pages) => makePdf({ pages })));
    const reports = await Promise.all(docs.map((d) => inspectPdf(d)));
    expect(reports.map((r) => r.pageCount)).toEqual([1, 2, 3, 4]);
  });

  it("inspects a 10 MiB PDF (targetBytes) that is within 64 KiB of the requested size", async () => {
    const target = 10 * 1024 * 1024;
    const bytes = await makePdf({ targetBytes: target });
    expect(Math.abs(bytes.length - target)).toBeLessThanOrEqual(64 * 1024);
    const report = await inspectPdf(bytes);
    expect(report.pageCount).toBe(1);
    expect(report.riskyFeatures).toEqual([]);
  }, 30_000);
});

describe("inspectPdf: rejected files", () => {
  it("rejects zero bytes with pdf_empty", async () => {
    expect(await rejectionCode(new Uint8Array(0))).toBe("pdf_empty");
  });

  it("rejects non-PDF bytes with pdf_not_pdf", async () => {
    expect(await rejectionCode(notAPdf())).toBe("pdf_not_pdf");
  });

  it("rejects a PDF preceded by non-whitespace junk with pdf_not_pdf (strict header rule)", async () => {
    expect(await rejectionCode(concat(latin1("junk\n"), await makePdf()))).toBe("pdf_not_pdf");
  });

  it("rejects a PDF whose tail (xref, trailer, %%EOF) is cut off with pdf_truncated", async () => {
    expect(await rejectionCode(truncatedPdf(await makePdf()))).toBe("pdf_truncated");
  });

  it("rejects garbage between a valid header and %%EOF with pdf_unparseable", async () => {
    expect(await rejectionCode(garbagePdf())).toBe("pdf_unparseable");
  });

  it.each(["encrypted-user-password.pdf", "encrypted-user-password-rc4.pdf"])(
    "rejects %s (needs a user password) with pdf_encrypted and a plain-words detail",
    async (name) => {
      const err = await rejection(fixture(name));
      expect(err.code).toBe("pdf_encrypted");
      expect(err.status).toBe(422);
      expect(err.detail).toMatch(/password/i);
    },
  );

  it.each(["encrypted-owner-only.pdf", "encrypted-owner-only-rc4.pdf"])(
    "accepts %s (owner password only, opens without one) and counts its pages",
    async (name) => {
      expect((await inspectPdf(fixture(name))).pageCount).toBe(2);
    },
  );

  it("rejects a PDF whose page tree is empty with pdf_no_pages", async () => {
    expect(await rejectionCode(zeroPagePdf())).toBe("pdf_no_pages");
  });
});

describe("inspectPdf: page size limit (78 × 101 inches, either orientation)", () => {
  it("rejects a 79 × 100 inch page with pdf_page_too_large naming the page", async () => {
    const err = await rejection(await makePdf({ widthIn: 79, heightIn: 100 }));
    expect(err.code).toBe("pdf_page_too_large");
    expect(err.detail).toContain("Page 1");
    expect(err.extra).toMatchObject({ page: 1, widthIn: 79, heightIn: 100 });
  });

  it("accepts a 78 × 101 inch page", async () => {
    const report = await inspectPdf(await makePdf({ widthIn: 78, heightIn: 101 }));
    expect([report.maxPageWidthIn, report.maxPageHeightIn]).toEqual([78, 101]);
  });

  it("accepts a landscape 101 × 78 inch page", async () => {
    expect((await inspectPdf(await makePdf({ widthIn: 101, heightIn: 78 }))).pageCount).toBe(1);
  });

  it("takes /UserUnit into account (612 × 792 units of 10/72 in = 85 × 110 in)", async () => {
    expect(await rejectionCode(await makePdf({ userUnit: 10 }))).toBe("pdf_page_too_large");
  });

  it("uses limits passed in options", async () => {
    const letter = await makePdf();
    expect(await rejectionCode(letter, { maxPageWidthIn: 8.5, maxPageHeightIn: 10 })).toBe("pdf_page_too_large");
    expect((await inspectPdf(letter, { maxPageWidthIn: 11, maxPageHeightIn: 8.5 })).pageCount).toBe(1);
  });
});

describe("inspectPdf: risky features are recorded, not rejected", () => {
  const cases: [keyof MakePdfOptions, string][] = [
    ["javascript", "JavaScript"],
    ["openAction", "OpenAction"],
    ["launch", "Launch"],
    ["embeddedFile", "EmbeddedFile"],
  ];

  describe.each([true, false])("objectStreams: %s", (objectStreams) => {
    it.each(cases)("records %s as %s", async (option, feature) => {
      const report = await inspectPdf(await makePdf({ [option]: true, objectStreams }));
      expect(report.pageCount).toBe(1);
      expect(report.riskyFeatures).toEqual([feature]);
    });
  });

  it("returns several features sorted and unique", async () => {
    const all = await makePdf({ javascript: true, openAction: true, launch: true, embeddedFile: true });
    expect((await inspectPdf(all)).riskyFeatures).toEqual(["EmbeddedFile", "JavaScript", "Launch", "OpenAction"]);
  });

  it("decodes #xx escapes in names (/J#61vaScript is /JavaScript)", async () => {
    const pdf = rawOnePagePdf({ catalogExtra: "/Foo << /S /J#61vaScript /J#53 (x) >>" });
    expect((await inspectPdf(pdf)).riskyFeatures).toEqual(["JavaScript"]);
  });

  it("records additional actions (/AA) and form submission (/SubmitForm) on a page", async () => {
    const pdf = rawOnePagePdf({ pageExtra: "/AA << /O << /S /SubmitForm /F (https://example.invalid/) >> >>" });
    expect((await inspectPdf(pdf)).riskyFeatures).toEqual(["AA", "SubmitForm"]);
  });

  it("records a script on a document event (catalog /AA, key written hex-escaped as /#41A)", async () => {
    const pdf = rawOnePagePdf({ catalogExtra: "/#41A << /WC << /S /JavaScript /JS (app.alert(1)) >> >>" });
    expect((await inspectPdf(pdf)).riskyFeatures).toEqual(["AA", "JavaScript"]);
  });

  it("records JavaScript via pdf.js when it sits in an object stream the byte scan cannot decode", async () => {
    const pdf = hexObjectStreamPdf("/Names 6 0 R", [
      "<< /JavaScript << /Names [(a) 7 0 R] >> >>",
      "<< /S /JavaScript /JS (app.alert(1)) >>",
    ]);
    expect(scanRiskyNames(pdf)).toEqual([]);
    expect((await inspectPdf(pdf)).riskyFeatures).toEqual(["JavaScript"]);
  });

  it("records features of an owner-password-only encrypted file and still accepts it", async () => {
    const report = await inspectPdf(fixture("encrypted-owner-only-javascript.pdf"));
    expect(report.pageCount).toBe(1);
    expect(report.riskyFeatures).toEqual(["JavaScript", "OpenAction"]);
  });
});

describe("scanRiskyNames", () => {
  it("ignores names inside ordinary (non-object) stream data", () => {
    const content = "/JavaScript /Launch";
    const pdf = rawOnePagePdf({
      pageExtra: "/Contents 4 0 R",
      extraObjects: [`<< /Length ${content.length} >>\nstream\n${content}\nendstream`],
    });
    expect(scanRiskyNames(pdf)).toEqual([]);
  });

  it("reads names inside compressed object streams", async () => {
    const compressed = await makePdf({ launch: true, objectStreams: true });
    expect(Buffer.from(compressed).includes("/Launch")).toBe(false); // only visible after inflating
    expect(scanRiskyNames(compressed)).toEqual(["Launch"]);
  });
});
