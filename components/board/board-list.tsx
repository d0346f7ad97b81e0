import Link from "next/link";
import { memo } from "react";
import { BreakerBadges } from "../circuits/breaker-badges";
import { servicePageHref, type BoardItem } from "../queries/registry";
import { Ago } from "./ago";
import { tileReason } from "./board-tile";
import { HealthBadge, MaintenanceBadge, healthStyles } from "./health-status";
import { formatLatency } from "./relative-time";

/**
 * The dense view of the board: one row per service, the same facts as a tile, about twenty
 * services to a screen — for agencies with hundreds of services.
 */
export function BoardList({ items, showTenant }: { items: BoardItem[]; showTenant: boolean }) {
  const th = "px-3 py-2 font-bold whitespace-nowrap";
  return (
    <div className="overflow-x-auto rounded-md border border-line">
      {/* Fixed layout: a row that changes does not make the browser re-measure 1,000 rows. */}
      <table className="w-full min-w-[48rem] table-fixed border-collapse text-left text-sm">
        <caption className="sr-only">Services, worst first</caption>
        <colgroup>
          <col className="w-[22%]" />
          <col className="w-[12rem]" />
          <col />
          <col className="w-[5rem]" />
          <col className="w-[5rem]" />
          <col className="w-[7.5rem]" />
        </colgroup>
        <thead className="bg-surface">
          <tr>
            <th scope="col" className={th}>
              Service
            </th>
            <th scope="col" className={th}>
              Status
            </th>
            <th scope="col" className={th}>
              Why
            </th>
            <th scope="col" className={`${th} text-right`}>
              Healthy
            </th>
            <th scope="col" className={`${th} text-right`}>
              p95
            </th>
            <th scope="col" className={th}>
              Last check
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <BoardRow key={`${item.tenant}/${item.name}`} item={item} showTenant={showTenant} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

const BoardRow = memo(function BoardRow({ item, showTenant }: { item: BoardItem; showTenant: boolean }) {
  const style = healthStyles[item.status];
  const reason = tileReason(item);
  return (
    <tr
      className={`border-t border-line align-top ${item.status === "green" ? "" : style.tile}`}
      data-status={item.status}
    >
      <th scope="row" className={`border-l-8 px-3 py-1.5 font-normal ${style.edge}`}>
        <Link href={servicePageHref(item.name, item.tenant)} className="font-semibold break-all">
          {item.name}
        </Link>
        {showTenant && <span className="ml-2 text-xs text-muted">{item.tenant}</span>}
      </th>
      <td className="px-3 py-1.5">
        <span className="flex flex-wrap gap-1">
          <HealthBadge status={item.status} size="sm" />
          {item.maintenance && <MaintenanceBadge size="sm" />}
          <BreakerBadges facts={item} />
        </span>
      </td>
      <td className="px-3 py-1.5 break-words">{reason ?? <span className="text-muted">—</span>}</td>
      <td className="px-3 py-1.5 text-right whitespace-nowrap tabular-nums">
        {item.instances.healthy}/{item.instances.total}
      </td>
      <td className="px-3 py-1.5 text-right whitespace-nowrap tabular-nums">{formatLatency(item.p95LatencyMs)}</td>
      <td className="px-3 py-1.5 whitespace-nowrap tabular-nums">
        <Ago iso={item.lastCheckedAt} coarse />
      </td>
    </tr>
  );
});
