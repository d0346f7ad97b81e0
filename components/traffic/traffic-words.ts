import type { TrafficRange } from "../queries/traffic";

/**
 * Colours of the status classes: the Okabe–Ito palette (distinguishable with the common kinds of
 * colour blindness) in the expected hues — 2xx green, 3xx blue, 4xx amber, 5xx red — and the 429
 * series drawn as a dashed dark line, so it never depends on colour alone.
 */
export const classStyles = {
  c2xx: { label: "2xx success", fill: "#009E73" },
  c3xx: { label: "3xx redirect", fill: "#0072B2" },
  c4xx: { label: "4xx client error", fill: "#E69F00" },
  c5xx: { label: "5xx server error", fill: "#D55E00" },
} as const;
export type ClassKey = keyof typeof classStyles;
export const CLASS_KEYS = Object.keys(classStyles) as ClassKey[];

export const RATE_LIMITED_STYLE = { label: "429 rate limited", stroke: "#1b1b1b", dash: "6 3" } as const;
export const LATENCY_STYLES = {
  p50Ms: { label: "p50 latency", stroke: "#0072B2", dash: undefined },
  p95Ms: { label: "p95 latency", stroke: "#CC79A7", dash: "6 3" },
} as const;

/** A service's name in the Traffic page's filter and table ("intake" is the claim uploads). */
export function serviceLabel(service: string): string {
  return service === "intake" ? "intake (claim uploads)" : service;
}

export const rangeWords: Record<TrafficRange, { button: string; sentence: string; bucket: string }> = {
  "15m": { button: "15 min", sentence: "the last 15 minutes", bucket: "minute" },
  "1h": { button: "1 hour", sentence: "the last hour", bucket: "minute" },
  "24h": { button: "24 hours", sentence: "the last 24 hours", bucket: "15 minutes" },
  "7d": { button: "7 days", sentence: "the last 7 days", bucket: "hour" },
};

/** "1,234", "0.47", "12.5" — rates keep at most two decimals, counts none. */
export function formatRate(v: number): string {
  return v.toLocaleString(undefined, { maximumFractionDigits: v < 10 ? 2 : 1 });
}

/** "3.1%" of `total`, or "0%". */
export function percentOf(n: number, total: number): string {
  if (total <= 0 || n <= 0) return "0%";
  const p = (n / total) * 100;
  return `${p < 0.1 ? "<0.1" : p.toFixed(p < 10 ? 1 : 0)}%`;
}
