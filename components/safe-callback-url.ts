/**
 * Where to send someone after signing in. Only paths on this site are allowed: an absolute URL
 * (next-auth sometimes sends one) is reduced to its path, so a crafted link can never bounce a
 * veteran to another site ("open redirect").
 */
export function safeCallbackUrl(raw: unknown, fallback = "/"): string {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > 2000) return fallback;
  let path = raw;
  if (!raw.startsWith("/")) {
    try {
      const u = new URL(raw);
      if (u.protocol !== "http:" && u.protocol !== "https:") return fallback;
      path = `${u.pathname}${u.search}${u.hash}`;
    } catch {
      return fallback;
    }
  }
  // "//evil.example" and "/\evil.example" are protocol-relative in browsers.
  if (!path.startsWith("/") || path.startsWith("//") || path.startsWith("/\\")) return fallback;
  if (path.startsWith("/signin")) return fallback;
  return path;
}
