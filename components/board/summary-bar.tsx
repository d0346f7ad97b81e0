import type { BoardStatusFilter, BoardSummary, HealthStatus } from "../queries/registry";
import { HealthIcon, healthStyles } from "./health-status";

const order: HealthStatus[] = ["red", "yellow", "green", "unknown"];

const pressedRing: Record<HealthStatus, string> = {
  red: "aria-pressed:ring-error-dark",
  yellow: "aria-pressed:ring-[#c2850c]",
  green: "aria-pressed:ring-success",
  unknown: "aria-pressed:ring-muted",
};

const countColour: Record<HealthStatus, string> = {
  red: "text-error-dark",
  yellow: "text-ink",
  green: "text-success-dark",
  unknown: "text-muted",
};

/**
 * The counts per status, worst first. Each count is also the status filter: pressing "Down 3"
 * shows only the three services that are down; pressing it again (or "All") shows everything.
 */
export function SummaryBar({
  summary,
  active,
  onSelect,
}: {
  summary: BoardSummary;
  active: BoardStatusFilter | null;
  onSelect: (status: BoardStatusFilter | null) => void;
}) {
  const base =
    "flex min-w-[7.5rem] flex-1 flex-col items-start gap-0.5 rounded-md border border-line bg-white px-3 py-2 text-left ring-inset hover:bg-surface aria-pressed:ring-4";
  return (
    <div role="group" aria-label="Filter by status" className="flex flex-wrap gap-2">
      <button
        type="button"
        aria-pressed={active === null}
        onClick={() => onSelect(null)}
        className={`${base} aria-pressed:ring-primary`}
      >
        <span className="text-sm font-semibold text-muted">All services</span>
        <span className="text-3xl font-bold tabular-nums">{summary.total}</span>
      </button>
      {order.map((status) => {
        const s = healthStyles[status];
        const n = summary[status];
        return (
          <button
            key={status}
            type="button"
            aria-pressed={active === status}
            aria-label={`${s.label}: ${n} ${n === 1 ? "service" : "services"}`}
            title={`${s.meaning}. Press to show only these.`}
            onClick={() => onSelect(active === status ? null : status)}
            className={`${base} ${pressedRing[status]} ${n > 0 && status === "red" ? "border-error-dark" : ""}`}
          >
            <span className={`flex items-center gap-1.5 text-sm font-semibold ${countColour[status]}`}>
              <HealthIcon status={status} />
              {s.label}
            </span>
            <span className={`text-3xl font-bold tabular-nums ${n > 0 ? countColour[status] : "text-muted"}`}>{n}</span>
          </button>
        );
      })}
      <button
        type="button"
        aria-pressed={active === "maintenance"}
        aria-label={`In maintenance: ${summary.maintenance} ${summary.maintenance === 1 ? "service" : "services"}`}
        title="Checks still run; not counted as outages. Press to show only these."
        onClick={() => onSelect(active === "maintenance" ? null : "maintenance")}
        className={`${base} border-dashed aria-pressed:ring-primary`}
      >
        <span className="text-sm font-semibold text-primary-darker">In maintenance</span>
        <span
          className={`text-3xl font-bold tabular-nums ${summary.maintenance > 0 ? "text-primary-darker" : "text-muted"}`}
        >
          {summary.maintenance}
        </span>
      </button>
    </div>
  );
}
