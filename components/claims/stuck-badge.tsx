import { formatWaiting } from "./stuck-claims-queries";

/** "Stuck · 45 min": a claim the watchdog flags (shape and words, not colour alone). */
export function StuckBadge({ waitingMinutes }: { waitingMinutes: number }) {
  return (
    <span
      title={`No status change for ${formatWaiting(waitingMinutes)}`}
      className="inline-flex items-center gap-1 rounded-full bg-error-dark px-2 py-0.5 text-xs font-bold whitespace-nowrap text-white"
    >
      <span aria-hidden="true">⏱</span>
      Stuck · {formatWaiting(waitingMinutes)}
    </span>
  );
}
