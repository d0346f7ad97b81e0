import type { HealthStatus } from "../queries/registry";

interface HealthStyle {
  label: string;
  /** what the colour means, in words (tooltips, screen readers) */
  meaning: string;
  badge: string;
  /** a tile's left edge and tint: the colour is never the only signal (icon + word too) */
  tile: string;
  edge: string;
  /** chart and meter colours */
  fill: string;
}

export const healthStyles: Record<HealthStatus, HealthStyle> = {
  red: {
    label: "Down",
    meaning: "No instance can take traffic",
    badge: "bg-error-dark text-white ring-error-dark",
    tile: "bg-error-lighter",
    edge: "border-l-error-dark",
    fill: "#b50909",
  },
  yellow: {
    label: "Degraded",
    meaning: "Still serving, but something is wrong",
    badge: "bg-warning text-ink ring-[#c2850c]",
    tile: "bg-warning-lighter",
    edge: "border-l-warning",
    fill: "#e5a000",
  },
  green: {
    label: "Healthy",
    meaning: "Every enabled instance passes its checks",
    badge: "bg-success-lighter text-success-dark ring-success",
    tile: "bg-white",
    edge: "border-l-success",
    fill: "#00a91c",
  },
  unknown: {
    label: "Unknown",
    meaning: "Not checked yet",
    badge: "bg-surface text-ink ring-muted",
    tile: "bg-white",
    edge: "border-l-muted",
    fill: "#71767a",
  },
};

/** A small shape per status, so the status never depends on colour alone. */
export function HealthIcon({ status, className = "h-4 w-4" }: { status: HealthStatus; className?: string }) {
  const common = {
    className,
    viewBox: "0 0 16 16",
    "aria-hidden": true,
    focusable: false,
  } as const;
  switch (status) {
    case "green":
      return (
        <svg {...common}>
          <circle cx="8" cy="8" r="7" fill="currentColor" opacity="0.18" />
          <path d="M4.5 8.3l2.3 2.3 4.7-5" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
        </svg>
      );
    case "yellow":
      return (
        <svg {...common}>
          <path d="M8 1.5l7 12.5H1z" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinejoin="round" />
          <path d="M8 6v3.6" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
          <circle cx="8" cy="11.8" r="1" fill="currentColor" />
        </svg>
      );
    case "red":
      return (
        <svg {...common}>
          <path
            d="M5.1 1h5.8L15 5.1v5.8L10.9 15H5.1L1 10.9V5.1z"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.6"
            strokeLinejoin="round"
          />
          <path d="M5.5 5.5l5 5m0-5l-5 5" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
        </svg>
      );
    default:
      return (
        <svg {...common}>
          <circle cx="8" cy="8" r="7" fill="none" stroke="currentColor" strokeWidth="1.5" strokeDasharray="2.5 2" />
          <path
            d="M6.2 6.2a1.9 1.9 0 113 1.5c-.7.5-1.2.9-1.2 1.8"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.5"
            strokeLinecap="round"
          />
          <circle cx="8" cy="11.8" r="0.9" fill="currentColor" />
        </svg>
      );
  }
}

/** A service or instance status as a pill: icon and word, coloured. */
export function HealthBadge({ status, size = "md" }: { status: HealthStatus; size?: "sm" | "md" | "lg" }) {
  const s = healthStyles[status];
  const sizing =
    size === "lg"
      ? "gap-2 px-3 py-1 text-base"
      : size === "sm"
        ? "gap-1 px-2 py-0.5 text-xs"
        : "gap-1.5 px-2.5 py-0.5 text-sm";
  return (
    <span
      title={s.meaning}
      className={`inline-flex items-center whitespace-nowrap rounded-full font-bold ring-1 ring-inset ${sizing} ${s.badge}`}
    >
      <HealthIcon status={status} className={size === "lg" ? "h-5 w-5" : size === "sm" ? "h-3.5 w-3.5" : "h-4 w-4"} />
      {s.label}
    </span>
  );
}

/** "In maintenance": checks still run, but nobody is paged and the board does not count it as an outage. */
export function MaintenanceBadge({ size = "md" }: { size?: "sm" | "md" }) {
  return (
    <span
      title="In maintenance: checks still run, alerts are paused"
      className={`inline-flex items-center gap-1 whitespace-nowrap rounded-full bg-primary-lighter font-bold text-primary-darker ring-1 ring-primary ring-inset ${
        size === "sm" ? "px-2 py-0.5 text-xs" : "px-2.5 py-0.5 text-sm"
      }`}
    >
      <svg viewBox="0 0 16 16" aria-hidden="true" focusable="false" className="h-3.5 w-3.5">
        <path
          d="M10.6 1.6a3.6 3.6 0 00-3.9 4.9L1.8 11.4a1.4 1.4 0 002 2l4.9-4.9a3.6 3.6 0 004.9-3.9l-2 2-1.9-.3-.3-1.9z"
          fill="currentColor"
        />
      </svg>
      Maintenance
    </span>
  );
}
