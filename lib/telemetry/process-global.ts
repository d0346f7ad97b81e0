/**
 * Process-wide telemetry state. The web process loads lib/ twice: the custom server (the
 * gateway's lean handler) imports it directly, and Next.js bundles its own copy into its chunks.
 * Module-level variables would therefore split the counts in two, and `/api/metrics` (a Next
 * route) would not see the gateway's. So every piece of telemetry state — the metric registry,
 * the traffic aggregates, the flush timer — hangs off ONE object on `globalThis` that every copy
 * of these modules finds.
 */
interface TelemetryHolder {
  metrics?: unknown;
  traffic?: unknown;
}

const g = globalThis as typeof globalThis & { hmsTelemetry?: TelemetryHolder };

/** The process's single `key` state, created by the first copy of the module that asks. */
export function processState<T>(key: keyof TelemetryHolder, create: () => T): T {
  const holder = (g.hmsTelemetry ??= {});
  return (holder[key] ??= create()) as T;
}
