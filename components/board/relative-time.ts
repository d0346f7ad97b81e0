"use client";

import { useSyncExternalStore } from "react";

/**
 * One clock for every "12 s ago" on a page: a single interval shared by all subscribers
 * (a board of 1,000 tiles must not run 1,000 timers), stopped when nothing listens.
 */
let now = Date.now();
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | null = null;

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (!timer) {
    now = Date.now();
    timer = setInterval(() => {
      now = Date.now();
      for (const l of listeners) l();
    }, 1_000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
}

/**
 * A text derived from the clock ("12 s ago"), re-rendering only when the text changes: a tile
 * that says "4 min ago" renders once a minute, not once a second.
 */
export function useClockText(format: (nowMs: number) => string): string {
  return useSyncExternalStore(
    subscribe,
    () => format(now),
    () => format(now),
  );
}

/**
 * "just now", "12 s ago", "4 min ago", "3 h ago", "2 d ago" (or "—" when never). `coarse`
 * rounds seconds down to fives ("10 s ago"), so a board of 1,000 tiles repaints a fifth as often.
 */
export function formatAgo(iso: string | null | undefined, nowMs: number, coarse = false): string {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "—";
  const s = Math.round((nowMs - t) / 1000);
  if (s < (coarse ? 5 : 2)) return "just now";
  if (s < 60) return `${coarse ? s - (s % 5) : s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** "for 12 s", "for 4 min" … how long a status has held. */
export function formatDuration(fromIso: string | null | undefined, nowMs: number, coarse = false): string | null {
  if (!fromIso) return null;
  const t = Date.parse(fromIso);
  if (Number.isNaN(t)) return null;
  const s = Math.max(0, Math.round((nowMs - t) / 1000));
  if (s < 60) return `${coarse ? s - (s % 5) : s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d`;
}

/** How long until a moment: "12 s", "4 min", "2 h 5 min"; null when it has passed (or never comes). */
export function formatCountdown(toIso: string | null | undefined, nowMs: number): string | null {
  if (!toIso) return null;
  const t = Date.parse(toIso);
  if (Number.isNaN(t)) return null;
  const s = Math.ceil((t - nowMs) / 1000);
  if (s <= 0) return null;
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "142 ms", "1.25 s", "—". */
export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1).replace(/\.?0+$/, "")} s`;
}

const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A full local date-time for tooltips and `<time>` titles. */
export function formatAbsolute(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : absolute.format(d);
}
