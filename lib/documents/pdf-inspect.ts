/**
 * Validates an uploaded claim PDF and describes it. Every rejection is an AppError with a
 * `pdf_*` code and a `detail` written for the veteran who uploaded the file.
 *
 * Order of checks (cheapest first):
 * 1. `pdf_empty`      — zero bytes.
 * 2. `pdf_not_pdf`    — the file must start with `%PDF-`. Decision: we are strict. Only a UTF-8
 *                       byte-order mark and ASCII whitespace may come before it (some upload tools
 *                       add those); any other leading bytes are rejected even though the PDF spec
 *                       lets readers tolerate up to 1 KiB of junk — such files are usually
 *                       something else (HTML error pages, e-mails with a PDF inside).
 * 3. `pdf_truncated`  — no `%%EOF` in the last 1024 bytes (trailing whitespace/junk after it is ok).
 * 4. `pdf_encrypted`  — pdf.js needs a user password. Owner-password-only files (they open without
 *                       a password; only permissions are restricted) are accepted.
 * 5. `pdf_unparseable`— pdf.js cannot open the document or one of its pages. pdf.js repairs what
 *                       viewers repair (e.g. a broken xref table), so we accept what viewers open.
 * 6. `pdf_no_pages`   — the page tree is empty.
 * 7. `pdf_page_too_large` — a page is larger than the limits (default 78 × 101 in, either way up).
 *
 * Risky features (scripts, launch actions, attachments, ...) are recorded, never rejected; see
 * `risky-features.ts` for what is and is not detected.
 */
import type * as PdfJsModule from "pdfjs-dist/legacy/build/pdf.mjs";
import { AppError } from "../http/app-error";
import { scanRiskyNames, sortFeatures, type RiskyFeature } from "./risky-features";

export interface PdfReport {
  pageCount: number;
  /** Widest page width, as displayed (after /Rotate), in inches, rounded to 0.01. */
  maxPageWidthIn: number;
  /** Tallest page height, as displayed (after /Rotate), in inches, rounded to 0.01. */
  maxPageHeightIn: number;
  /** Sorted, unique names from `RISKY_FEATURES`. */
  riskyFeatures: string[];
  /** e.g. "1.7": the catalog /Version if present, else the header's version; null if unreadable. */
  pdfVersion: string | null;
}

export interface InspectPdfOptions {
  /**
   * Page size limit in inches. Orientation does not matter: a page passes when its short side is
   * within the smaller limit and its long side within the larger one (so 101 × 78 passes 78 × 101).
   */
  maxPageWidthIn?: number;
  maxPageHeightIn?: number;
}

export const DEFAULT_MAX_PAGE_WIDTH_IN = 78;
export const DEFAULT_MAX_PAGE_HEIGHT_IN = 101;

const POINTS_PER_INCH = 72;
/** Slack for writers that round page boxes (0.001 in = 0.072 pt). */
const SIZE_TOLERANCE_IN = 0.001;
const HEADER = "%PDF-";
const EOF_MARKER = "%%EOF";
const TAIL_BYTES = 1024;
const MAX_LEADING_BYTES = 1024;
/** Pages requested from pdf.js at once; keeps the worker busy without holding every page. */
const PAGE_BATCH = 64;

const DETAIL = {
  empty: "The file is empty (0 bytes). Please choose your PDF again and upload it.",
  notPdf: "This file is not a PDF. Please save or scan your document as a PDF and upload it again.",
  truncated:
    "This PDF is incomplete: the end of the file is missing, so it may not have finished downloading or copying. " +
    "Please get a complete copy and upload it again.",
  unparseable:
    "This PDF is damaged and cannot be opened. Please open it on your computer, save or print it as a new PDF, " +
    "and upload that file.",
  encrypted: "This file is protected with a password. Remove the password and upload it again.",
  noPages: "This PDF has no pages. Please check that you chose the right file and upload it again.",
} as const;

/** Checks an uploaded PDF (see the top of this file). Does not modify or keep `bytes`. */
export async function inspectPdf(bytes: Uint8Array, opts: InspectPdfOptions = {}): Promise<PdfReport> {
  const headerVersion = checkEnvelope(bytes);
  const parsed = await parseWithPdfJs(bytes, pageLimits(opts));
  const scanned = scanRiskyNames(bytes);
  return {
    pageCount: parsed.pageCount,
    maxPageWidthIn: round2(parsed.maxWidthIn),
    maxPageHeightIn: round2(parsed.maxHeightIn),
    riskyFeatures: sortFeatures([...scanned, ...parsed.features]),
    pdfVersion: parsed.catalogVersion ?? headerVersion,
  };
}

// ---------------------------------------------------------------------------------------------
// Cheap byte checks

/** Throws pdf_empty / pdf_not_pdf / pdf_truncated; returns the header's version ("1.7") if any. */
export function checkEnvelope(bytes: Uint8Array): string | null {
  if (bytes.length === 0) throw new AppError("pdf_empty", DETAIL.empty);
  const start = skipLeadingWhitespace(bytes);
  if (asciiAt(bytes, start, HEADER.length) !== HEADER) throw new AppError("pdf_not_pdf", DETAIL.notPdf);
  if (!tailHasEofMarker(bytes)) throw new AppError("pdf_truncated", DETAIL.truncated);
  const version = /^%PDF-(\d\.\d)/.exec(asciiAt(bytes, start, HEADER.length + 3));
  return version?.[1] ?? null;
}

/** Index of the first byte after an optional UTF-8 BOM and ASCII whitespace (bounded). */
function skipLeadingWhitespace(bytes: Uint8Array): number {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const limit = Math.min(bytes.length, MAX_LEADING_BYTES);
  while (i < limit && isPdfWhitespace(bytes[i])) i++;
  return i;
}

function isPdfWhitespace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0c;
}

function tailHasEofMarker(bytes: Uint8Array): boolean {
  const from = Math.max(0, bytes.length - TAIL_BYTES);
  return asciiAt(bytes, from, bytes.length - from).includes(EOF_MARKER);
}

function asciiAt(bytes: Uint8Array, start: number, length: number): string {
  return Buffer.from(
    bytes.buffer,
    bytes.byteOffset + start,
    Math.max(0, Math.min(length, bytes.length - start)),
  ).toString("latin1");
}

// ---------------------------------------------------------------------------------------------
// pdf.js

type PdfJs = typeof PdfJsModule;
type PdfDocument = Awaited<ReturnType<PdfJs["getDocument"]>["promise"]>;
type PdfPage = Awaited<ReturnType<PdfDocument["getPage"]>>;

interface PageLimits {
  shortIn: number;
  longIn: number;
}

interface ParsedPdf {
  pageCount: number;
  maxWidthIn: number;
  maxHeightIn: number;
  features: RiskyFeature[];
  catalogVersion: string | null;
}

let pdfJsPromise: Promise<PdfJs> | undefined;

/**
 * Loads pdf.js once. In Node pdf.js runs its "worker" in-process (a fake worker): it would import
 * `./pdf.worker.mjs` relative to its own file, which breaks if a bundler moved pdf.mjs. We import
 * the worker module ourselves and hand it over via `globalThis.pdfjsWorker` (pdf.js checks that
 * first), so the same code works from plain Node/tsx, Vitest and a Next.js server bundle (where
 * pdfjs-dist is in `serverExternalPackages`, i.e. both are plain Node imports). A failure here is
 * our problem, not the file's, so it is thrown as a plain Error (a 500), not a pdf_* code.
 */
function loadPdfJs(): Promise<PdfJs> {
  pdfJsPromise ??= (async () => {
    if (!Reflect.has(globalThis, "pdfjsWorker")) {
      // @ts-expect-error -- pdfjs-dist ships no type declarations for the worker entry point.
      const worker: unknown = await import("pdfjs-dist/legacy/build/pdf.worker.mjs");
      if (typeof worker !== "object" || worker === null || !("WorkerMessageHandler" in worker)) {
        throw new Error("pdfjs-dist worker module has no WorkerMessageHandler export");
      }
      Reflect.set(globalThis, "pdfjsWorker", worker);
    }
    return import("pdfjs-dist/legacy/build/pdf.mjs");
  })();
  pdfJsPromise.catch(() => {
    pdfJsPromise = undefined; // let the next call retry
  });
  return pdfJsPromise;
}

async function parseWithPdfJs(bytes: Uint8Array, limits: PageLimits): Promise<ParsedPdf> {
  const pdfjs = await loadPdfJs();
  const task = pdfjs.getDocument({
    // A copy: pdf.js transfers (detaches) the buffer it is given, and rejects Node Buffers.
    data: new Uint8Array(bytes),
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    useWorkerFetch: false,
    useWasm: false,
    isOffscreenCanvasSupported: false,
    isImageDecoderSupported: false,
    enableXfa: false,
    verbosity: pdfjs.VerbosityLevel.ERRORS,
  });
  try {
    const doc = await task.promise.catch(rethrowAsAppError);
    if (doc.numPages === 0) throw new AppError("pdf_no_pages", DETAIL.noPages);
    const sizes = await measurePages(doc, limits).catch(rethrowAsAppError);
    const { features, catalogVersion } = await documentFacts(doc);
    return { pageCount: doc.numPages, ...sizes, features, catalogVersion };
  } finally {
    await task.destroy(); // also destroys the document and its fake worker
  }
}

function rethrowAsAppError(err: unknown): never {
  if (err instanceof AppError) throw err;
  if (errorName(err) === "PasswordException") throw new AppError("pdf_encrypted", DETAIL.encrypted, { cause: err });
  throw new AppError("pdf_unparseable", DETAIL.unparseable, { cause: err });
}

function errorName(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "name" in err && typeof err.name === "string"
    ? err.name
    : undefined;
}

// ---------------------------------------------------------------------------------------------
// Page sizes

function pageLimits(opts: InspectPdfOptions): PageLimits {
  const a = opts.maxPageWidthIn ?? DEFAULT_MAX_PAGE_WIDTH_IN;
  const b = opts.maxPageHeightIn ?? DEFAULT_MAX_PAGE_HEIGHT_IN;
  return { shortIn: Math.min(a, b), longIn: Math.max(a, b) };
}

async function measurePages(
  doc: PdfDocument,
  limits: PageLimits,
): Promise<{ maxWidthIn: number; maxHeightIn: number }> {
  let maxWidthIn = 0;
  let maxHeightIn = 0;
  for (let first = 1; first <= doc.numPages; first += PAGE_BATCH) {
    const last = Math.min(doc.numPages, first + PAGE_BATCH - 1);
    const numbers = Array.from({ length: last - first + 1 }, (_, i) => first + i);
    const pages = await Promise.all(numbers.map((n) => doc.getPage(n)));
    for (const page of pages) {
      const size = displayedSizeIn(page);
      assertPageFits(page.pageNumber, size, limits);
      maxWidthIn = Math.max(maxWidthIn, size.widthIn);
      maxHeightIn = Math.max(maxHeightIn, size.heightIn);
      page.cleanup();
    }
  }
  return { maxWidthIn, maxHeightIn };
}

/** Page size in inches from pdf.js's `view` (CropBox clipped to MediaBox), `userUnit` and `rotate`. */
function displayedSizeIn(page: PdfPage): { widthIn: number; heightIn: number } {
  const [x1 = 0, y1 = 0, x2 = 0, y2 = 0] = page.view;
  const unitIn = (page.userUnit || 1) / POINTS_PER_INCH;
  const w = Math.abs(x2 - x1) * unitIn;
  const h = Math.abs(y2 - y1) * unitIn;
  return page.rotate % 180 === 0 ? { widthIn: w, heightIn: h } : { widthIn: h, heightIn: w };
}

function assertPageFits(pageNumber: number, size: { widthIn: number; heightIn: number }, limits: PageLimits): void {
  const shortSide = Math.min(size.widthIn, size.heightIn);
  const longSide = Math.max(size.widthIn, size.heightIn);
  if (shortSide <= limits.shortIn + SIZE_TOLERANCE_IN && longSide <= limits.longIn + SIZE_TOLERANCE_IN) return;
  const actual = `${formatIn(size.widthIn)} × ${formatIn(size.heightIn)} inches`;
  const allowed = `${formatIn(limits.shortIn)} × ${formatIn(limits.longIn)} inches`;
  throw new AppError(
    "pdf_page_too_large",
    `Page ${pageNumber} is ${actual}, which is larger than we can accept (at most ${allowed}). ` +
      "Please resize that page (for example, print it to a standard paper size) and upload the file again.",
    { extra: { page: pageNumber, widthIn: round2(size.widthIn), heightIn: round2(size.heightIn) } },
  );
}

function formatIn(inches: number): string {
  return String(round2(inches));
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

// ---------------------------------------------------------------------------------------------
// Risky features and version via pdf.js (works inside compressed object streams and after
// decryption). Each probe failing on a malformed structure just reports nothing.

/** pdf.js's names for catalog /AA triggers (DocumentActionEventType). */
const DOCUMENT_AA_EVENTS: ReadonlySet<string> = new Set(["WillClose", "WillSave", "DidSave", "WillPrint", "DidPrint"]);

async function documentFacts(doc: PdfDocument): Promise<{ features: RiskyFeature[]; catalogVersion: string | null }> {
  const orNull = <T>(p: Promise<T>): Promise<T | null> => p.catch(() => null);
  const [jsActions, fieldJs, openAction, attachments, metadata] = await Promise.all([
    orNull<unknown>(doc.getJSActions()),
    orNull(doc.hasJSActions()),
    orNull<unknown>(doc.getOpenAction()),
    orNull<unknown>(doc.getAttachments()),
    orNull(doc.getMetadata()),
  ]);
  const info: unknown = metadata?.info;
  const features: RiskyFeature[] = [...jsActionFeatures(jsActions)];
  if (fieldJs === true) features.push("JavaScript");
  if (openAction !== null && openAction !== undefined) features.push("OpenAction");
  if (isNonEmptyObject(attachments)) features.push("EmbeddedFile");
  if (readProp(info, "IsXFAPresent") === true) features.push("XFA");
  const version = readProp(info, "PDFFormatVersion");
  return { features, catalogVersion: typeof version === "string" && /^\d\.\d$/.test(version) ? version : null };
}

function jsActionFeatures(jsActions: unknown): RiskyFeature[] {
  if (!isNonEmptyObject(jsActions)) return [];
  const features: RiskyFeature[] = ["JavaScript"];
  for (const key of Object.keys(jsActions)) {
    if (key === "OpenAction") features.push("OpenAction");
    if (DOCUMENT_AA_EVENTS.has(key)) features.push("AA");
  }
  return features;
}

function isNonEmptyObject(value: unknown): value is object {
  return typeof value === "object" && value !== null && Object.keys(value).length > 0;
}

function readProp(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? Reflect.get(value, key) : undefined;
}
