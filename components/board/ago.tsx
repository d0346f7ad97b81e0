"use client";

import { formatAbsolute, formatAgo, formatDuration, useClockText } from "./relative-time";

/** "12 s ago" on the page's one shared clock (re-rendered only when the words change); "never" without a time. */
export function Ago({
  iso,
  never = "never",
  coarse = false,
}: {
  iso: string | null | undefined;
  never?: string;
  /** seconds in steps of five (board tiles) */
  coarse?: boolean;
}) {
  const text = useClockText((now) => (iso ? formatAgo(iso, now, coarse) : never));
  if (!iso) return <>{never}</>;
  return (
    <time dateTime={iso} title={formatAbsolute(iso)} suppressHydrationWarning>
      {text}
    </time>
  );
}

/** How long something has held: "42 s", "3 min". */
export function Since({ iso, coarse = false }: { iso: string; coarse?: boolean }) {
  const text = useClockText((now) => formatDuration(iso, now, coarse) ?? "—");
  return <span suppressHydrationWarning>{text}</span>;
}
