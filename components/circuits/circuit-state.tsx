"use client";

import { formatAbsolute, formatCountdown, useClockText } from "../board/relative-time";
import type { CircuitState, CircuitView } from "../queries/circuits";

interface CircuitStyle {
  label: string;
  /** what the state means for traffic, in words (tooltips, screen readers) */
  meaning: string;
  /** a glyph as well as a colour, so the state never depends on colour alone */
  icon: string;
  badge: string;
  /** a row's tint */
  row: string;
}

export const circuitStyles: Record<CircuitState, CircuitStyle> = {
  open: {
    label: "Open",
    meaning: "Tripped: no traffic goes to this instance",
    icon: "⚡",
    badge: "bg-error-dark text-white ring-error-dark",
    row: "bg-error-lighter",
  },
  half_open: {
    label: "Half-open",
    meaning: "Trial calls decide whether it closes or opens again",
    icon: "◐",
    badge: "bg-warning text-ink ring-[#c2850c]",
    row: "bg-warning-lighter",
  },
  closed: {
    label: "Closed",
    meaning: "Traffic flows normally",
    icon: "✓",
    badge: "bg-success-lighter text-success-dark ring-success",
    row: "",
  },
};

/** A breaker's state as a pill: glyph and word, coloured. */
export function CircuitBadge({ state, size = "md" }: { state: CircuitState; size?: "sm" | "md" }) {
  const s = circuitStyles[state];
  return (
    <span
      title={s.meaning}
      className={`inline-flex items-center gap-1 rounded-full font-bold whitespace-nowrap ring-1 ring-inset ${
        size === "sm" ? "px-2 py-0.5 text-xs" : "px-2.5 py-0.5 text-sm"
      } ${s.badge}`}
    >
      <span aria-hidden="true">{s.icon}</span>
      {s.label}
    </span>
  );
}

/** "Forced open by operator-a": an override that holds until someone releases it. */
export function ForcedMarker({ circuit }: { circuit: Pick<CircuitView, "forced" | "forcedBy" | "forcedAt"> }) {
  if (!circuit.forced) return null;
  return (
    <span
      className="inline-flex items-center gap-1 rounded-full bg-primary-lighter px-2 py-0.5 text-xs font-bold whitespace-nowrap text-primary-darker ring-1 ring-primary ring-inset"
      title={circuit.forcedAt ? `Forced ${formatAbsolute(circuit.forcedAt)}` : undefined}
    >
      <span aria-hidden="true">⚑</span>
      Forced {circuit.forced}
      {circuit.forcedBy ? ` by ${circuit.forcedBy}` : ""}
    </span>
  );
}

/** An open breaker's countdown to its trial calls: "trial calls in 12 s" (or "now"). */
export function OpenUntil({ circuit }: { circuit: Pick<CircuitView, "state" | "forced" | "openUntil"> }) {
  const text = useClockText((now) => {
    if (circuit.state !== "open") return "—";
    if (circuit.forced === "open") return "until released";
    const left = formatCountdown(circuit.openUntil, now);
    return left ? `trial calls in ${left}` : "trial calls now";
  });
  if (circuit.state === "open" && circuit.openUntil && circuit.forced !== "open") {
    return (
      <time dateTime={circuit.openUntil} title={formatAbsolute(circuit.openUntil)} suppressHydrationWarning>
        {text}
      </time>
    );
  }
  return <span suppressHydrationWarning>{text}</span>;
}

/** "32% of 25 calls", or "—" before the gateway has measured anything. */
export function failureRateText(c: Pick<CircuitView, "failureRatePct" | "windowCalls">): string {
  if (c.failureRatePct === null || c.failureRatePct === undefined) return "—";
  const calls = c.windowCalls ?? 0;
  return calls ? `${c.failureRatePct}% of ${calls} ${calls === 1 ? "call" : "calls"}` : `${c.failureRatePct}%`;
}
