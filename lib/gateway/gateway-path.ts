/**
 * The path a gateway call forwards (ARCHITECTURE.md §7 Gateway): the part of the request target
 * after `/api/v1/gw/<service>`, checked so that the instance's base path + this path can never
 * name anything outside the base path — whatever the upstream (or a proxy in front of it) does
 * with dots, encoded slashes or backslashes.
 *
 * Each segment is percent-decoded ONCE and refused (400 `path_invalid`) when:
 * - it is `.` or `..` after decoding (`..`, `%2e%2e`, `.%2E`, …);
 * - it holds a `/` or `\` after decoding (`%2f`, `%5c`): an upstream that decodes before routing
 *   would see more segments than we checked;
 * - it holds a control character after decoding (U+0000–U+001F, U+007F, and the C1 range
 *   U+0080–U+009F as UTF-8): `%00`, `%0a`, `%09` …;
 * - its percent-encoding is malformed (`%zz`, a lone `%`): upstreams disagree on what that means.
 * The raw target itself may hold only printable ASCII without `\` (Node's HTTP parser already
 * answers 400 to raw control characters, spaces and non-ASCII bytes; the check repeats it so the
 * rule does not depend on the server in front).
 *
 * `//` at the start (an empty first segment) is refused too: `//evil.example/x` is a
 * scheme-relative URL to anything that resolves the path as a URL (redirect builders, some
 * routers), and no client means it. Empty segments further in (`/a//b`) cannot form an
 * authority and pass unchanged; a trailing slash is kept (`/a/` ≠ `/a` to many upstreams).
 *
 * What passes is forwarded exactly as the client encoded it (no re-encoding, no collapsing), so
 * an upstream sees the same bytes it would see without the gateway. Decoding is done once, as
 * the contract says: `%252e` decodes to the three characters `%2e`, which is not a dot segment,
 * and is forwarded as `%252e` — an upstream that decodes twice has a bug of its own, and
 * refusing every `%25` would break legitimate names that contain a percent sign.
 *
 * The query string is not checked here: it passes through unchanged (raw control characters in
 * it never get past Node's parser).
 */
export type PathCheck = { ok: true; path: string } | { ok: false; reason: string };

const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * `raw`: the request target's path after the service name, without the query — `""`, `"/"` or
 * `"/…"` — exactly as Node's parser hands it over (one character per byte). Returns the path to
 * append to the instance's base path: always starts with `/` (`""` becomes `"/"`).
 */
export function checkGatewayPath(raw: string): PathCheck {
  if (raw === "" || raw === "/") return { ok: true, path: "/" };
  if (raw.charCodeAt(0) !== 0x2f) return { ok: false, reason: "the path must start with /" };
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x5c) return { ok: false, reason: "a backslash in the path" };
    if (c <= 0x20 || c >= 0x7f) return { ok: false, reason: "a control, space or non-ASCII character in the path" };
  }
  if (raw.charCodeAt(1) === 0x2f) return { ok: false, reason: "the path starts with //" };

  const segments = raw.slice(1).split("/");
  for (const seg of segments) {
    const bytes = decodeOnce(seg);
    if (bytes === null) return { ok: false, reason: "malformed percent-encoding in the path" };
    const why = segmentProblem(bytes);
    if (why) return { ok: false, reason: why };
  }
  return { ok: true, path: raw };
}

/** One segment's bytes after one round of percent-decoding; null when an escape is malformed. */
function decodeOnce(seg: string): number[] | null {
  const out: number[] = [];
  for (let i = 0; i < seg.length; i++) {
    const c = seg.charCodeAt(i);
    if (c !== 0x25) {
      out.push(c);
      continue;
    }
    const hex = seg.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return null;
    out.push(parseInt(hex, 16));
    i += 2;
  }
  return out;
}

function segmentProblem(b: readonly number[]): string | null {
  if ((b.length === 1 && b[0] === 0x2e) || (b.length === 2 && b[0] === 0x2e && b[1] === 0x2e)) {
    return "a . or .. segment in the path";
  }
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x2f || c === 0x5c) return "an encoded / or \\ in the path";
    if (c < 0x20 || c === 0x7f) return "a control character in the path";
    // C1 controls (U+0080–U+009F) as UTF-8: C2 80 … C2 9F
    if (c === 0xc2 && (b[i + 1] ?? 0) >= 0x80 && (b[i + 1] ?? 0) <= 0x9f) return "a control character in the path";
  }
  return null;
}
