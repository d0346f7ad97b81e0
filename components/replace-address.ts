/**
 * Mirrors filters into the address in place: a value sets its parameter, `null` removes it, and
 * the other parameters stay. Next.js keeps useSearchParams in step with the History API, so this
 * is no server round trip per keystroke, no history entry per filter, and no navigation that could
 * cancel a click elsewhere on the page.
 */
export function replaceAddress(pathname: string, values: Record<string, string | null>): void {
  const address = new URLSearchParams(window.location.search);
  for (const [key, value] of Object.entries(values)) {
    if (value) address.set(key, value);
    else address.delete(key);
  }
  const qs = address.toString();
  window.history.replaceState(null, "", qs ? `${pathname}?${qs}` : pathname);
}
