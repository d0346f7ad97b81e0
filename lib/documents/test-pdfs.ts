/**
 * Builders for test and benchmark PDFs. Not used by production code paths.
 *
 * `makePdf` uses pdf-lib; `rawPdf` writes a PDF by hand (with a correct xref table) for shapes
 * pdf-lib will not produce, e.g. a document with zero pages or hex-escaped names.
 */
import { PDFArray, PDFDocument, PDFName, PDFString, StandardFonts, type PDFPage, type PDFRef } from "pdf-lib";

export interface MakePdfOptions {
  /** Number of pages (default 1). */
  pages?: number;
  /** Page width in inches (default 8.5). */
  widthIn?: number;
  /** Page height in inches (default 11). */
  heightIn?: number;
  /** Pad the file with an uncompressed stream of pseudo-random bytes to about this many bytes. */
  targetBytes?: number;
  /** Document-level JavaScript in the catalog's /Names /JavaScript name tree. */
  javascript?: boolean;
  /** Catalog /OpenAction jumping to page 1 (a plain destination, no script). */
  openAction?: boolean;
  /** A link annotation on page 1 with a /Launch action. */
  launch?: boolean;
  /** An attached file (/EmbeddedFiles name tree + /EmbeddedFile stream). */
  embeddedFile?: boolean;
  /** Write objects into compressed object streams, pdf-lib's default (default true). */
  objectStreams?: boolean;
  /** /UserUnit on every page (PDF 1.6): one unit = userUnit / 72 inch. */
  userUnit?: number;
}

/** Bytes backed by a plain ArrayBuffer, so they can be used directly as a fetch/Response body. */
export type PdfBytes = Uint8Array<ArrayBuffer>;

const POINTS_PER_INCH = 72;
const latin1 = (s: string): PdfBytes => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

/** A view on the same memory typed as `PdfBytes` (copies only if the memory is shared). */
function plainBytes(bytes: Uint8Array): PdfBytes {
  return bytes.buffer instanceof ArrayBuffer
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : Uint8Array.from(bytes);
}

/** A valid PDF made with pdf-lib. Default: one US Letter page with a line of text. */
export async function makePdf(opts: MakePdfOptions = {}): Promise<PdfBytes> {
  const doc = await buildDocument(opts);
  const save = async (): Promise<PdfBytes> =>
    plainBytes(await doc.save({ useObjectStreams: opts.objectStreams ?? true }));
  if (opts.targetBytes === undefined) return save();

  const unpadded = (await save()).length;
  const padding = doc.context.stream(pseudoRandomBytes(Math.max(0, opts.targetBytes - unpadded - 64)));
  const paddingRef = doc.context.register(padding);
  doc.catalog.set(PDFName.of("HmsPadding"), paddingRef);
  const first = await save();
  const shortfall = opts.targetBytes - first.length;
  if (shortfall === 0 || padding.contents.length + shortfall < 0) return first;
  // Second pass: the overhead estimate was off by a few bytes; correct it exactly.
  doc.context.assign(paddingRef, doc.context.stream(pseudoRandomBytes(padding.contents.length + shortfall)));
  return save();
}

async function buildDocument(opts: MakePdfOptions): Promise<PDFDocument> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const size: [number, number] = [(opts.widthIn ?? 8.5) * POINTS_PER_INCH, (opts.heightIn ?? 11) * POINTS_PER_INCH];
  const pageCount = opts.pages ?? 1;
  for (let i = 1; i <= pageCount; i++) {
    const page = doc.addPage(size);
    page.drawText(`HMS-SYS test document, page ${i} of ${pageCount}`, { x: 36, y: size[1] - 48, size: 12, font });
    if (opts.userUnit !== undefined) page.node.set(PDFName.of("UserUnit"), doc.context.obj(opts.userUnit));
  }
  const firstPage = doc.getPages()[0];
  if (opts.javascript) addDocumentJavaScript(doc);
  if (opts.openAction && firstPage) addOpenAction(doc, firstPage.ref);
  if (opts.launch && firstPage) addLaunchLink(doc, firstPage);
  if (opts.embeddedFile) {
    await doc.attach(latin1("attached text file\n"), "notes.txt", { mimeType: "text/plain", description: "test" });
  }
  return doc;
}

function addDocumentJavaScript(doc: PDFDocument): void {
  const action = doc.context.obj({ Type: "Action", S: "JavaScript", JS: PDFString.of("app.alert('hello');") });
  const tree = doc.context.obj({ Names: [PDFString.of("greeting"), doc.context.register(action)] });
  doc.catalog.set(PDFName.of("Names"), doc.context.obj({ JavaScript: tree }));
}

function addOpenAction(doc: PDFDocument, pageRef: PDFRef): void {
  doc.catalog.set(PDFName.of("OpenAction"), doc.context.obj([pageRef, "Fit"]));
}

function addLaunchLink(doc: PDFDocument, page: PDFPage): void {
  const launch = doc.context.obj({ S: "Launch", F: PDFString.of("calc.exe") });
  const annot = doc.context.obj({
    Type: "Annot",
    Subtype: "Link",
    Rect: [36, 36, 136, 56],
    Border: [0, 0, 0],
    A: launch,
  });
  const annots = PDFArray.withContext(doc.context);
  annots.push(doc.context.register(annot));
  page.node.set(PDFName.of("Annots"), annots);
}

/** Deterministic, incompressible filler bytes (xorshift32). */
export function pseudoRandomBytes(length: number, seed = 0x9e3779b9): PdfBytes {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Bytes that are clearly not a PDF (a PNG signature followed by text). */
export function notAPdf(): PdfBytes {
  return Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...latin1("not a pdf at all"));
}

/** Cuts off the tail (by default the last 40% of the file) so `%%EOF`, the xref and trailer are gone. */
export function truncatedPdf(bytes: Uint8Array, keepFraction = 0.6): PdfBytes {
  return plainBytes(bytes.slice(0, Math.floor(bytes.length * keepFraction)));
}

/** A `%PDF-1.7` header, then garbage, then `%%EOF`: passes the cheap checks, fails parsing. */
export function garbagePdf(): PdfBytes {
  const filler = Array.from({ length: 40 }, (_, i) => `garbage line ${i} ~~~ no objects here`).join("\n");
  return latin1(`%PDF-1.7\n${filler}\n%%EOF\n`);
}

/**
 * A hand-written PDF with a correct xref table. `objects[i]` is the body of object `i + 1`
 * (without `obj`/`endobj`); object 1 must be the catalog.
 */
export function rawPdf(objects: readonly string[], version = "1.7"): PdfBytes {
  let out = `%PDF-${version}\n%\xe2\xe3\xcf\xd3\n`;
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xrefOffset = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xrefOffset}\n%%EOF\n`;
  return latin1(out);
}

/** A structurally valid PDF whose page tree is empty (/Count 0, /Kids []). */
export function zeroPagePdf(): PdfBytes {
  return rawPdf(["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>"]);
}

/** A one-page hand-written PDF; `catalogExtra` / `pageExtra` are spliced into those dictionaries. */
export function rawOnePagePdf(
  parts: { catalogExtra?: string; pageExtra?: string; extraObjects?: string[] } = {},
): PdfBytes {
  return rawPdf([
    `<< /Type /Catalog /Pages 2 0 R ${parts.catalogExtra ?? ""} >>`,
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] ${parts.pageExtra ?? ""} >>`,
    ...(parts.extraObjects ?? []),
  ]);
}

/**
 * A one-page PDF whose `compressed` objects (numbered 6, 7, ...) live in an object stream encoded
 * with /ASCIIHexDecode, indexed by an xref stream. Viewers (and pdf.js) read those objects; a byte
 * scan that only inflates FlateDecode object streams does not. `catalogExtra` can refer to them.
 */
export function hexObjectStreamPdf(catalogExtra: string, compressed: readonly string[]): PdfBytes {
  const first = 6;
  let objStmHeader = "";
  let objStmBody = "";
  compressed.forEach((body, i) => {
    objStmHeader += `${first + i} ${objStmBody.length} `;
    objStmBody += `${body}\n`;
  });
  const objStmData = toHex(objStmHeader + objStmBody) + ">";
  const plain = [
    `<< /Type /Catalog /Pages 2 0 R ${catalogExtra} >>`,
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    `<< /Type /ObjStm /N ${compressed.length} /First ${objStmHeader.length} /Filter /ASCIIHexDecode ` +
      `/Length ${objStmData.length} >>\nstream\n${objStmData}\nendstream`,
  ];
  let out = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
  const offsets: number[] = [];
  plain.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xrefOffset = out.length;
  const size = first + compressed.length;
  // /W [1 4 2]: type, field 2 (offset or object-stream number), field 3 (generation or index).
  const entry = (type: number, f2: number, f3: number): string =>
    type.toString(16).padStart(2, "0") + f2.toString(16).padStart(8, "0") + f3.toString(16).padStart(4, "0");
  const entries = [
    entry(0, 0, 0xffff),
    ...offsets.map((o) => entry(1, o, 0)),
    entry(1, xrefOffset, 0),
    ...compressed.map((_, i) => entry(2, 4, i)),
  ];
  const xrefData = entries.join("") + ">";
  out +=
    `5 0 obj\n<< /Type /XRef /Size ${size} /W [1 4 2] /Root 1 0 R /Filter /ASCIIHexDecode /Length ${xrefData.length} >>\n` +
    `stream\n${xrefData}\nendstream\nendobj\nstartxref\n${xrefOffset}\n%%EOF\n`;
  return latin1(out);
}

function toHex(s: string): string {
  return Array.from(s, (c) => (c.charCodeAt(0) & 0xff).toString(16).padStart(2, "0")).join("");
}
