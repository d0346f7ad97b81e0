/** A service's breakers in a line (board tiles, the dense list, the service page). */
export interface BreakerFacts {
  circuits: { open: number; halfOpen: number; forced: number };
  failover: boolean;
  activeRegion?: string | null;
  failoverReason?: string | null;
}

const pill = "inline-flex items-center gap-1 rounded-full font-bold whitespace-nowrap ring-1 ring-inset";

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * "⚡ 1 open breaker", "◐ 1 half-open", "⚑ 2 forced", "Failover → secondary" — each a glyph
 * and words, so neither colour nor the glyph carries the meaning alone. Nothing when every
 * breaker is closed and traffic stays in the primary region.
 */
export function BreakerBadges({ facts, size = "sm" }: { facts: BreakerFacts; size?: "sm" | "md" }) {
  const { open, halfOpen, forced } = facts.circuits;
  if (!open && !halfOpen && !forced && !facts.failover) return null;
  const sizing = size === "sm" ? "px-2 py-0.5 text-xs" : "px-2.5 py-0.5 text-sm";
  return (
    <span className="inline-flex flex-wrap gap-1" data-testid="breaker-badges">
      {open > 0 && (
        <span
          className={`${pill} ${sizing} bg-error-dark text-white ring-error-dark`}
          title="Tripped breakers: the gateway sends these instances no traffic"
        >
          <span aria-hidden="true">⚡</span>
          {plural(open, "open breaker", "open breakers")}
        </span>
      )}
      {halfOpen > 0 && (
        <span
          className={`${pill} ${sizing} bg-warning text-ink ring-[#c2850c]`}
          title="Trial calls decide whether these breakers close"
        >
          <span aria-hidden="true">◐</span>
          {plural(halfOpen, "half-open breaker", "half-open breakers")}
        </span>
      )}
      {forced > 0 && (
        <span
          className={`${pill} ${sizing} bg-primary-lighter text-primary-darker ring-primary`}
          title="An operator forced these breakers; they hold until released"
        >
          <span aria-hidden="true">⚑</span>
          {plural(forced, "forced breaker", "forced breakers")}
        </span>
      )}
      {facts.failover && (
        <span
          className={`${pill} ${sizing} bg-warning-lighter text-ink ring-warning`}
          title={facts.failoverReason ?? "Traffic has failed over away from the primary region"}
        >
          Failover <span aria-hidden="true">→</span>
          <span className="sr-only">to</span> {facts.activeRegion ?? "no region"}
        </span>
      )}
    </span>
  );
}
