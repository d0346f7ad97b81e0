"use client";

import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Bar, CartesianGrid, ComposedChart, Legend, Line, Tooltip, XAxis, YAxis } from "recharts";
import { historyRanges, registryQueries, type HistoryPoint, type HistoryRange } from "../queries/registry";
import { healthStyles } from "./health-status";
import { formatLatency } from "./relative-time";

const rangeWords: Record<HistoryRange, { button: string; sentence: string; ms: number; bucketMs: number }> = {
  "15m": { button: "15 min", sentence: "the last 15 minutes", ms: 15 * 60_000, bucketMs: 60_000 },
  "1h": { button: "1 hour", sentence: "the last hour", ms: 60 * 60_000, bucketMs: 60_000 },
  "24h": { button: "24 hours", sentence: "the last 24 hours", ms: 24 * 60 * 60_000, bucketMs: 15 * 60_000 },
  "7d": { button: "7 days", sentence: "the last 7 days", ms: 7 * 24 * 60 * 60_000, bucketMs: 60 * 60_000 },
};

interface Bucket {
  t: number;
  passes: number;
  warns: number;
  fails: number;
  /** the worst per-minute p95 inside the bucket */
  p95: number | null;
}

/**
 * Per-minute roll-ups folded into at most ~170 evenly spaced buckets over the whole range, with
 * empty buckets for minutes without checks, so bar widths mean the same time everywhere.
 */
export function bucketise(points: readonly HistoryPoint[], range: HistoryRange, now: number): Bucket[] {
  const { ms, bucketMs } = rangeWords[range];
  // Anchor on the server's newest bucket (its clock, not ours), else on now.
  const newest = points.length ? Date.parse(points[points.length - 1]!.minute) : Number.NaN;
  const end = Math.floor((Number.isNaN(newest) ? now : newest) / bucketMs) * bucketMs;
  const start = end - ms + bucketMs;
  const buckets: Bucket[] = [];
  for (let t = start; t <= end; t += bucketMs) buckets.push({ t, passes: 0, warns: 0, fails: 0, p95: null });
  for (const p of points) {
    const at = Date.parse(p.minute);
    if (Number.isNaN(at)) continue;
    const i = Math.floor((at - start) / bucketMs);
    const b = buckets[i];
    if (!b) continue;
    b.passes += p.passes;
    b.warns += p.warns;
    b.fails += p.fails;
    if (p.p95LatencyMs !== null && p.p95LatencyMs !== undefined) b.p95 = Math.max(b.p95 ?? 0, p.p95LatencyMs);
  }
  return buckets;
}

const hourMinute = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayHour = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function summarise(buckets: Bucket[]) {
  let passes = 0;
  let warns = 0;
  let fails = 0;
  let worstP95: number | null = null;
  for (const b of buckets) {
    passes += b.passes;
    warns += b.warns;
    fails += b.fails;
    if (b.p95 !== null) worstP95 = Math.max(worstP95 ?? 0, b.p95);
  }
  return { passes, warns, fails, total: passes + warns + fails, worstP95 };
}

/** Checks per minute (passing / slow or warning / failed, stacked) and the p95 latency line. */
export function HistoryChart({ service, tenant }: { service: string; tenant: string | null }) {
  const [range, setRange] = useState<HistoryRange>("1h");
  const query = useQuery(registryQueries.history(service, tenant, range));
  const points = query.data?.points;
  const dataUpdatedAt = query.dataUpdatedAt;
  const buckets = useMemo(
    () => (points ? bucketise(points, range, dataUpdatedAt) : []),
    [points, range, dataUpdatedAt],
  );
  const s = summarise(buckets);
  const words = rangeWords[range];
  const tick = (t: number) => (range === "7d" ? dayHour : hourMinute).format(new Date(t));

  return (
    <div className="space-y-4">
      <div role="group" aria-label="Time range" className="inline-flex overflow-hidden rounded border-2 border-primary">
        {historyRanges.map((r) => (
          <button
            key={r}
            type="button"
            aria-pressed={range === r}
            onClick={() => setRange(r)}
            className="border-l border-primary px-3 py-1.5 text-sm font-semibold text-primary first:border-l-0 hover:bg-primary-lighter aria-pressed:bg-primary aria-pressed:text-white"
          >
            {rangeWords[r].button}
          </button>
        ))}
      </div>

      {query.isPending ? (
        <p role="status" className="text-muted">
          Loading the history…
        </p>
      ) : query.isError && !query.data ? (
        <div role="alert" className="space-y-2 rounded-md border-l-8 border-error-dark bg-error-lighter p-3">
          <p className="font-semibold">We couldn’t load the history: {query.error.message}</p>
          <button type="button" className="btn btn-secondary" onClick={() => void query.refetch()}>
            Try again
          </button>
        </div>
      ) : (
        <>
          <p className="text-sm" aria-live="polite">
            {s.total === 0 ? (
              <>No checks recorded in {words.sentence}.</>
            ) : (
              <>
                In {words.sentence}: <strong>{s.passes.toLocaleString()}</strong> passing,{" "}
                <strong>{s.warns.toLocaleString()}</strong> slow or warning, <strong>{s.fails.toLocaleString()}</strong>{" "}
                failed ({((s.fails / s.total) * 100).toFixed(s.fails === 0 ? 0 : 1)}% failed). Worst p95 latency:{" "}
                <strong>{formatLatency(s.worstP95)}</strong>.
              </>
            )}
          </p>
          <figure className={query.isPlaceholderData ? "opacity-60" : ""}>
            <ComposedChart
              responsive
              data={buckets}
              margin={{ top: 16, right: 8, bottom: 0, left: 0 }}
              style={{ width: "100%", height: 280 }}
              accessibilityLayer
            >
              <CartesianGrid strokeDasharray="3 3" stroke="#dfe1e2" vertical={false} />
              <XAxis dataKey="t" tickFormatter={tick} minTickGap={24} tick={{ fontSize: 12, fill: "#565c65" }} />
              <YAxis
                yAxisId="checks"
                allowDecimals={false}
                width={40}
                tick={{ fontSize: 12, fill: "#565c65" }}
                label={{ value: "checks", angle: -90, position: "insideLeft", fontSize: 12, fill: "#565c65" }}
              />
              <YAxis
                yAxisId="latency"
                orientation="right"
                width={68}
                tickFormatter={(v: number) => formatLatency(v)}
                tick={{ fontSize: 12, fill: "#565c65" }}
              />
              <Tooltip
                labelFormatter={(t) => full.format(new Date(Number(t)))}
                formatter={(value, name) =>
                  name === "p95 latency" ? [formatLatency(Number(value)), name] : [Number(value), name]
                }
              />
              <Legend wrapperStyle={{ fontSize: 13 }} itemSorter={null} />
              <Bar
                yAxisId="checks"
                dataKey="passes"
                name="Passing"
                stackId="checks"
                fill={healthStyles.green.fill}
                isAnimationActive={false}
              />
              <Bar
                yAxisId="checks"
                dataKey="warns"
                name="Slow or warning"
                stackId="checks"
                fill={healthStyles.yellow.fill}
                isAnimationActive={false}
              />
              <Bar
                yAxisId="checks"
                dataKey="fails"
                name="Failed"
                stackId="checks"
                fill={healthStyles.red.fill}
                isAnimationActive={false}
              />
              <Line
                yAxisId="latency"
                dataKey="p95"
                name="p95 latency"
                type="linear"
                stroke="#162e51"
                strokeWidth={2}
                dot={false}
                connectNulls={false}
                isAnimationActive={false}
              />
            </ComposedChart>
            <figcaption className="mt-1 text-xs text-muted">
              Bars: health checks per{" "}
              {words.bucketMs >= 3_600_000 ? "hour" : words.bucketMs > 60_000 ? "15 minutes" : "minute"}, stacked by
              outcome. Line: p95 latency (right axis
              {words.bucketMs > 60_000 ? ", worst minute in each bar" : ""}).
            </figcaption>
          </figure>
        </>
      )}
    </div>
  );
}
