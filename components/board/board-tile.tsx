import Link from "next/link";
import { memo } from "react";
import { BreakerBadges } from "../circuits/breaker-badges";
import { servicePageHref, type BoardItem } from "../queries/registry";
import { HealthBadge, MaintenanceBadge, healthStyles } from "./health-status";
import { Ago, Since } from "./ago";
import { formatAbsolute, formatLatency } from "./relative-time";
import { capitalise } from "./words";

/** Plain words when the server gives no reason for a non-green status. */
function fallbackReason(item: BoardItem): string {
  if (item.status === "unknown") {
    return item.instances.total === 0 ? "No instances registered" : "Waiting for the first health check";
  }
  if (item.instances.total === 0) return "No instances registered";
  if (item.instances.healthy === 0) return "No instance is passing its health checks";
  return `${item.instances.total - item.instances.healthy} of ${item.instances.total} instances not healthy`;
}

/** Why a service is not green, in words (null when it is green). */
export function tileReason(item: BoardItem): string | null {
  return item.status === "green" ? null : capitalise(item.reason?.trim() || fallbackReason(item));
}

/**
 * One service on the board: status (colour, icon and word), why it is not green, its breakers
 * and failover, instances healthy per region, p95 latency and the last check. The whole tile
 * links to the service page.
 */
export const BoardTile = memo(function BoardTile({ item, showTenant }: { item: BoardItem; showTenant: boolean }) {
  const style = healthStyles[item.status];
  const reason = tileReason(item);
  const headingId = `tile-${item.tenant}-${item.name}`;

  return (
    <li
      aria-labelledby={headingId}
      className={`flex flex-col gap-2 rounded-md border border-l-8 border-line p-3 [contain-intrinsic-size:auto_9rem] [content-visibility:auto] ${style.tile} ${style.edge}`}
      data-status={item.status}
    >
      <div className="flex items-start justify-between gap-2">
        <h3 id={headingId} className="min-w-0 text-lg leading-tight font-bold">
          <Link
            href={servicePageHref(item.name, item.tenant)}
            className="break-words text-ink no-underline hover:underline focus-visible:underline"
          >
            {item.name}
          </Link>
          {showTenant && <span className="block text-sm font-normal text-muted">{item.tenant}</span>}
        </h3>
        <HealthBadge status={item.status} />
      </div>

      {reason && (
        <p className="line-clamp-3 text-sm font-semibold" title={reason} data-testid="tile-reason">
          <span className="sr-only">Why: </span>
          {reason}
        </p>
      )}

      <div className="flex flex-wrap items-center gap-x-2 gap-y-1 text-sm">
        {item.maintenance && <MaintenanceBadge size="sm" />}
        <BreakerBadges facts={item} />
        {item.statusChangedAt && (
          <span className="text-muted" title={`Since ${formatAbsolute(item.statusChangedAt)}`}>
            {style.label} for <Since iso={item.statusChangedAt} coarse />
          </span>
        )}
      </div>

      <dl className="mt-auto grid grid-cols-[auto_minmax(0,1fr)] gap-x-3 gap-y-0.5 text-sm">
        <dt className="text-muted">Instances</dt>
        <dd className="tabular-nums">
          <span className="font-semibold">
            {item.instances.healthy}/{item.instances.total}
          </span>{" "}
          healthy
          {item.instances.drained ? <span className="text-muted"> ({item.instances.drained} drained)</span> : null}
          {item.regions.length > 0 && (
            <span className="text-muted">
              {" "}
              ·{" "}
              {item.regions.map((r, i) => (
                <span key={r.region} className="whitespace-nowrap">
                  {i > 0 && ", "}
                  {r.region} {r.healthy}/{r.total}
                </span>
              ))}
            </span>
          )}
        </dd>
        <dt className="text-muted">p95 latency</dt>
        <dd className="tabular-nums">{formatLatency(item.p95LatencyMs)}</dd>
        <dt className="text-muted">Last check</dt>
        <dd className="tabular-nums">
          <Ago iso={item.lastCheckedAt} coarse />
        </dd>
      </dl>
    </li>
  );
});
