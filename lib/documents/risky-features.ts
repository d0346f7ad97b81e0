/**
 * Finds "risky" PDF features: things a viewer may execute or open (scripts, launch actions,
 * attachments, ...). We RECORD them for reviewers; we never reject a file because of them.
 *
 * Two sources are combined by `pdf-inspect.ts`:
 *
 * 1. `scanRiskyNames` (this file): a byte scan of the file for PDF name tokens, with `#xx` escapes
 *    decoded (`/J#61vaScript` is `/JavaScript`). Stream data is skipped (page content, images and
 *    padding are not PDF syntax and could produce false hits), except object streams
 *    (`/Type /ObjStm`), which hold ordinary dictionaries in compressed form: those are inflated
 *    (FlateDecode or unfiltered only, capped in size) and scanned too.
 * 2. pdf.js (see `pdf-inspect.ts`): document JavaScript (name tree, JS open action, catalog /AA),
 *    JavaScript on form fields, the /OpenAction, the /EmbeddedFiles tree and XFA presence. These
 *    work after decryption and whatever the file's compression.
 *
 * NOT detected (known gaps):
 * - Features inside an encrypted file's object streams: the byte scan cannot decrypt them; only
 *   the pdf.js checks above apply (so e.g. a /Launch link in an encrypted file is missed).
 * - Object streams with filters other than FlateDecode (or with a PNG/TIFF predictor), and
 *   object streams larger than the inflate cap.
 * - Page-level /AA and annotation actions that only exist in such unreadable object streams.
 * - Whether a feature is actually reachable: an unreferenced object still counts.
 * The scan can also over-report: a name token inside a literal string, e.g. `(see /JS)`, counts.
 */
import { inflateSync, constants as zlibConstants } from "node:zlib";

/** Normalized feature names, as stored in `documents.risky_features`. */
export const RISKY_FEATURES = [
  "AA",
  "EmbeddedFile",
  "GoToE",
  "GoToR",
  "ImportData",
  "JavaScript",
  "Launch",
  "OpenAction",
  "RichMedia",
  "SubmitForm",
  "XFA",
] as const;

export type RiskyFeature = (typeof RISKY_FEATURES)[number];

/** PDF name (after `#xx` decoding) → feature. `/JS` is the key holding script text. */
const NAME_TO_FEATURE: ReadonlyMap<string, RiskyFeature> = new Map<string, RiskyFeature>([
  ...RISKY_FEATURES.map((f): [string, RiskyFeature] => [f, f]),
  ["JS", "JavaScript"],
  ["EmbeddedFiles", "EmbeddedFile"],
]);

/** Most bytes inflated per object stream, and per file, before giving up (decompression bombs). */
const MAX_OBJSTM_BYTES = 16 * 1024 * 1024;
const MAX_TOTAL_INFLATED_BYTES = 64 * 1024 * 1024;
/** Short filter names allowed in inline images and (by some writers) in stream dictionaries. */
const FILTER_ABBREVIATIONS: ReadonlySet<string> = new Set(["AHx", "A85", "LZW", "Fl", "RL", "CCF", "DCT"]);
/** How far back from `stream` we look for the stream's dictionary. */
const MAX_STREAM_DICT_CHARS = 64 * 1024;

/**
 * One regex for the two tokens we care about: a name (`/` + regular characters) or the `stream`
 * keyword that starts binary data. `endstream` is excluded because `\b` needs a non-word before.
 */
const TOKEN_RE = /\/([^\x00\t\n\f\r ()<>[\]{}/%]*)|\bstream(?:\r\n|\n|\r)/g;

/** Decodes `#xx` escapes in a PDF name (PDF 1.2+). Invalid escapes are kept literally. */
export function decodePdfName(raw: string): string {
  if (!raw.includes("#")) return raw;
  return raw.replace(/#([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Byte scan described at the top of this file. Returns sorted, unique feature names. */
export function scanRiskyNames(bytes: Uint8Array): RiskyFeature[] {
  const found = new Set<RiskyFeature>();
  const budget = { inflatedBytes: 0 };
  scanText(latin1(bytes), found, budget, true);
  return sortFeatures(found);
}

/** Sorted, unique. */
export function sortFeatures(features: Iterable<RiskyFeature>): RiskyFeature[] {
  return [...new Set(features)].sort();
}

function scanText(text: string, found: Set<RiskyFeature>, budget: { inflatedBytes: number }, streams: boolean): void {
  const re = new RegExp(TOKEN_RE.source, "g");
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const rawName = m[1];
    if (rawName !== undefined) {
      const feature = NAME_TO_FEATURE.get(decodePdfName(rawName));
      if (feature) found.add(feature);
      continue;
    }
    if (!streams) continue;
    const dataStart = m.index + m[0].length;
    const end = text.indexOf("endstream", dataStart);
    const dataEnd = end === -1 ? text.length : end;
    const objectStream = readObjectStream(text, m.index, dataStart, dataEnd, budget);
    if (objectStream !== null) scanText(objectStream, found, budget, false);
    re.lastIndex = dataEnd;
  }
}

/** If the stream starting at `keywordAt` is an object stream we can read, its decoded text. */
function readObjectStream(
  text: string,
  keywordAt: number,
  dataStart: number,
  dataEnd: number,
  budget: { inflatedBytes: number },
): string | null {
  const names = dictionaryNames(text, keywordAt);
  // Readers find object streams through the xref, not /Type, so also accept the /N + /First shape.
  if (!names.has("ObjStm") && !(names.has("N") && names.has("First"))) return null;
  const filters = [...names].filter((n) => n.endsWith("Decode") || FILTER_ABBREVIATIONS.has(n) || n === "Crypt");
  if (filters.length === 0) return text.slice(dataStart, dataEnd);
  const flateOnly = filters.every((f) => f === "FlateDecode" || f === "Fl");
  if (!flateOnly || names.has("Predictor")) return null;
  const data = Buffer.from(text.slice(dataStart, dataEnd), "latin1");
  const inflated = inflateCapped(data, Math.min(MAX_OBJSTM_BYTES, MAX_TOTAL_INFLATED_BYTES - budget.inflatedBytes));
  if (inflated === null) return null;
  budget.inflatedBytes += inflated.length;
  return inflated.toString("latin1");
}

/** Decoded names in the dictionary right before the `stream` keyword (from the `obj` header). */
function dictionaryNames(text: string, keywordAt: number): Set<string> {
  const windowStart = Math.max(0, keywordAt - MAX_STREAM_DICT_CHARS);
  const objAt = text.lastIndexOf("obj", keywordAt);
  const dict = text.slice(Math.max(windowStart, objAt), keywordAt);
  const names = new Set<string>();
  for (const m of dict.matchAll(/\/([^\x00\t\n\f\r ()<>[\]{}/%]*)/g)) {
    if (m[1] !== undefined) names.add(decodePdfName(m[1]));
  }
  return names;
}

/** Inflates zlib data, tolerating a missing end (like viewers do); null if corrupt or too big. */
function inflateCapped(data: Buffer, maxBytes: number): Buffer | null {
  if (maxBytes <= 0) return null;
  try {
    return inflateSync(data, { maxOutputLength: maxBytes, finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch {
    return null;
  }
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}
