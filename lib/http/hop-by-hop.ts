/**
 * Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and never cross a proxy, nor
 * does any header the Connection header names. The gateway's forwarding and the data-plane
 * process's pass-through to the web process both filter with these.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

const NONE: ReadonlySet<string> = new Set();

/** The header names a Connection header value lists (lower case); none for the common values. */
export function listedByConnection(connection: string | undefined): ReadonlySet<string> {
  if (!connection) return NONE;
  const v = connection.toLowerCase();
  if (v === "keep-alive" || v === "close") return NONE;
  return new Set(
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
}
