/** Tests only: polling a real system (a database, another process) until something holds. */

/** Resolves with the elapsed ms once `check` is true; throws after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 3_000, everyMs = 20): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return performance.now() - started;
}

/** Resolves with the first truthy value `fn` returns; throws (naming `what`) after `ms`. */
export async function untilValue<T>(what: string, fn: () => Promise<T | null | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
