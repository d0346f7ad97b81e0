"use client";

import { useEffect, useRef } from "react";
import { formatAbsolute } from "../board/relative-time";
import { DataTable } from "../data-table";
import type { AuditEvent } from "./audit-queries";

/** The DOM id of an event's row, for links and scrolling. */
export const eventRowId = (id: string) => `audit-event-${id}`;

const outcomeTone: Record<string, string> = {
  success: "text-success-dark",
  failure: "text-error-dark",
  denied: "text-error-dark",
};

/**
 * The events, newest first. `highlight` marks one row (the chain's broken event): it is scrolled
 * into view and focused once it is on the page.
 */
export function AuditTable({
  items,
  showTenant,
  highlight,
}: {
  items: AuditEvent[];
  showTenant: boolean;
  highlight: string | null;
}) {
  const highlighted = useRef<HTMLTableCellElement | null>(null);
  const present = highlight !== null && items.some((e) => e.id === highlight);
  useEffect(() => {
    if (!present) return;
    highlighted.current?.scrollIntoView({ block: "center" });
    highlighted.current?.focus({ preventScroll: true });
  }, [present, highlight]);

  return (
    <DataTable
      labelledBy="audit-events-heading"
      columns={[
        { key: "at", label: "Time" },
        showTenant && { key: "tenant", label: "Agency" },
        { key: "actor", label: "Actor" },
        { key: "action", label: "Action" },
        { key: "target", label: "Target" },
        { key: "outcome", label: "Outcome" },
        { key: "ip", label: "IP" },
        { key: "trace", label: "Trace id" },
        { key: "seq", label: "Seal", numeric: true },
        { key: "data", label: "Details" },
      ]}
    >
      {items.map((e) => {
        const isHighlight = e.id === highlight;
        return (
          <tr
            key={e.id}
            id={eventRowId(e.id)}
            className={`border-t border-line align-top ${isHighlight ? "bg-warning-lighter outline-4 outline-error-dark" : ""}`}
            data-event-id={e.id}
            aria-current={isHighlight ? "true" : undefined}
          >
            <th
              scope="row"
              className="px-3 py-2 text-left font-normal whitespace-nowrap tabular-nums"
              ref={isHighlight ? highlighted : undefined}
              tabIndex={isHighlight ? -1 : undefined}
            >
              <time dateTime={e.at}>{formatAbsolute(e.at)}</time>
              {isHighlight && <span className="block text-xs font-bold text-error-dark">where the chain breaks</span>}
            </th>
            {showTenant && <td className="px-3 py-2">{e.tenant ?? <span className="text-muted">global</span>}</td>}
            <td className="px-3 py-2 break-all">{e.actor}</td>
            <td className="px-3 py-2 font-mono text-xs">{e.action}</td>
            <td className="px-3 py-2 font-mono text-xs break-all">{e.target ?? "—"}</td>
            <td className={`px-3 py-2 font-semibold ${outcomeTone[e.outcome] ?? ""}`}>{e.outcome}</td>
            <td className="px-3 py-2 font-mono text-xs whitespace-nowrap">{e.ip ?? "—"}</td>
            <td className="px-3 py-2 font-mono text-xs" title={e.traceId ?? undefined}>
              {e.traceId ? `${e.traceId.slice(0, 8)}…` : "—"}
            </td>
            <td className="px-3 py-2 text-right tabular-nums">
              {e.seq ?? <span className="text-xs text-muted">sealing…</span>}
            </td>
            <td className="px-3 py-2">
              {e.data !== null && e.data !== undefined ? (
                <details>
                  <summary className="cursor-pointer text-sm text-primary underline">
                    Show<span className="sr-only"> details of event {e.id}</span>
                  </summary>
                  <pre className="mt-1 max-w-md overflow-x-auto text-xs whitespace-pre-wrap">
                    {JSON.stringify(e.data, null, 2)}
                  </pre>
                </details>
              ) : (
                "—"
              )}
            </td>
          </tr>
        );
      })}
    </DataTable>
  );
}
