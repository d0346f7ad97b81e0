"use client";

import { useId, useMemo } from "react";
import { Area, CartesianGrid, ComposedChart, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from "recharts";
import { formatLatency } from "../board/relative-time";
import { DataTable } from "../data-table";
import type { TenantTraffic, TrafficRange } from "../queries/traffic";
import {
  CLASS_KEYS,
  classStyles,
  formatRate,
  LATENCY_STYLES,
  percentOf,
  RATE_LIMITED_STYLE,
  rangeWords,
  serviceLabel,
} from "./traffic-words";

const hourMinute = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayHour = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

const axisTick = { fontSize: 12, fill: "#565c65" };
const CHART_HEIGHT = 240;
const chartMargin = { top: 8, right: 8, bottom: 0, left: 0 };
const chartStyle = { width: "100%", height: CHART_HEIGHT };
const grid = <CartesianGrid strokeDasharray="3 3" stroke="#dfe1e2" vertical={false} />;
const legend = <Legend wrapperStyle={{ fontSize: 13 }} itemSorter={null} />;

/**
 * One agency's traffic: totals in words, requests per minute stacked by status class with the
 * 429s as a dashed line, p50/p95 latency, and the busiest services (a name filters the page).
 */
export function TenantTrafficCard({
  data,
  range,
  showHeading,
  onPickService,
}: {
  data: TenantTraffic;
  range: TrafficRange;
  /** several agencies on the page: name this one */
  showHeading: boolean;
  onPickService: (service: string) => void;
}) {
  const headingId = useId();
  const words = rangeWords[range];
  const rows = useMemo(() => data.points.map((p) => ({ ...p, t: Date.parse(p.at) })), [data.points]);
  const tick = (t: number) => (range === "7d" ? dayHour : hourMinute).format(new Date(t));
  const label = (t: unknown) => {
    const at = Number(t);
    const partial = rows.find((r) => r.t === at)?.partial;
    return `${full.format(new Date(at))}${partial ? " (so far)" : ""}`;
  };
  const tt = data.totals;
  // What both charts share: the rows, the size, the time axis and the tooltip's time.
  const chart = { responsive: true, data: rows, margin: chartMargin, style: chartStyle, accessibilityLayer: true };
  const timeAxis = (
    <XAxis
      dataKey="t"
      type="number"
      domain={["dataMin", "dataMax"]}
      scale="time"
      tickFormatter={tick}
      minTickGap={24}
      tick={axisTick}
    />
  );
  const tooltip = (format: (v: number) => string) => (
    <Tooltip labelFormatter={label} formatter={(v, name) => [format(Number(v)), name]} />
  );

  return (
    <section aria-labelledby={headingId} className="space-y-4 rounded-md border border-line p-4">
      <h2 id={headingId} className={showHeading ? "text-2xl font-bold" : "sr-only"}>
        {showHeading ? data.tenant : `Traffic of ${data.tenant}`}
      </h2>

      <p className="text-sm">
        In {words.sentence}: <strong>{tt.requests.toLocaleString()}</strong> requests —{" "}
        {CLASS_KEYS.map((k, i) => (
          <span key={k}>
            {i > 0 && ", "}
            <strong>{tt[k].toLocaleString()}</strong> {k.slice(1)} ({percentOf(tt[k], tt.requests)})
          </span>
        ))}
        ; <strong>{tt.rateLimited.toLocaleString()}</strong> rate limited (429). Latency p50{" "}
        <strong>{formatLatency(tt.p50Ms)}</strong>, p95 <strong>{formatLatency(tt.p95Ms)}</strong>.
      </p>

      <figure>
        <figcaption className="mb-1 text-sm font-bold">Requests per minute</figcaption>
        <ComposedChart {...chart}>
          {grid}
          {timeAxis}
          <YAxis width={48} tick={axisTick} tickFormatter={(v: number) => formatRate(v)} />
          {tooltip((v) => `${formatRate(v)} / min`)}
          {legend}
          {CLASS_KEYS.map((k) => (
            <Area
              key={k}
              dataKey={k}
              name={classStyles[k].label}
              stackId="requests"
              type="linear"
              stroke={classStyles[k].fill}
              fill={classStyles[k].fill}
              fillOpacity={0.75}
              isAnimationActive={false}
            />
          ))}
          <Line
            dataKey="rateLimited"
            name={RATE_LIMITED_STYLE.label}
            type="linear"
            stroke={RATE_LIMITED_STYLE.stroke}
            strokeDasharray={RATE_LIMITED_STYLE.dash}
            strokeWidth={2}
            dot={false}
            isAnimationActive={false}
          />
        </ComposedChart>
        <p className="mt-1 text-xs text-muted">
          Stacked by status class{words.bucket === "minute" ? "" : `, averaged over each ${words.bucket}`}. The dashed
          line is requests refused by the rate limiter (also counted in 4xx). The last point is the current{" "}
          {words.bucket}, still filling.
        </p>
      </figure>

      <figure>
        <figcaption className="mb-1 text-sm font-bold">Latency</figcaption>
        <LineChart {...chart}>
          {grid}
          {timeAxis}
          <YAxis width={68} tick={axisTick} tickFormatter={(v: number) => formatLatency(v)} />
          {tooltip(formatLatency)}
          {legend}
          {(["p50Ms", "p95Ms"] as const).map((k) => (
            <Line
              key={k}
              dataKey={k}
              name={LATENCY_STYLES[k].label}
              type="linear"
              stroke={LATENCY_STYLES[k].stroke}
              strokeDasharray={LATENCY_STYLES[k].dash}
              strokeWidth={2}
              dot={false}
              connectNulls={false}
              isAnimationActive={false}
            />
          ))}
        </LineChart>
        <p className="mt-1 text-xs text-muted">
          Estimated from latency buckets per {words.bucket}; gaps are{" "}
          {words.bucket === "minute" ? "minutes" : "periods"} without requests.
        </p>
      </figure>

      {data.services.length > 0 && (
        <DataTable
          caption={`Services of ${data.tenant} by requests`}
          labelledBy={`${headingId}-services`}
          columns={[
            { key: "service", label: "Service" },
            { key: "requests", label: "Requests", numeric: true },
            { key: "c4xx", label: "4xx", numeric: true },
            { key: "c5xx", label: "5xx", numeric: true },
            { key: "rl", label: "429", numeric: true },
            { key: "p50", label: "p50", numeric: true },
            { key: "p95", label: "p95", numeric: true },
          ]}
        >
          {data.services.map((s) => (
            <tr key={s.service} className="border-t border-line">
              <td className="px-3 py-2">
                <button
                  type="button"
                  className="font-semibold text-primary underline hover:text-primary-dark"
                  onClick={() => onPickService(s.service)}
                  title={`Show only ${s.service}`}
                >
                  {serviceLabel(s.service)}
                </button>
              </td>
              <td className="px-3 py-2 text-right tabular-nums">{s.requests.toLocaleString()}</td>
              <td className="px-3 py-2 text-right tabular-nums">
                {s.c4xx.toLocaleString()} <span className="text-muted">({percentOf(s.c4xx, s.requests)})</span>
              </td>
              <td className="px-3 py-2 text-right tabular-nums">
                {s.c5xx.toLocaleString()} <span className="text-muted">({percentOf(s.c5xx, s.requests)})</span>
              </td>
              <td className="px-3 py-2 text-right tabular-nums">{s.rateLimited.toLocaleString()}</td>
              <td className="px-3 py-2 text-right tabular-nums">{formatLatency(s.p50Ms)}</td>
              <td className="px-3 py-2 text-right tabular-nums">{formatLatency(s.p95Ms)}</td>
            </tr>
          ))}
        </DataTable>
      )}
    </section>
  );
}
