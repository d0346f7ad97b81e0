import { formatDateTime } from "./format";
import { isClaimStatus, type ClaimStatus, type TimelineEntry } from "./queries/claims";
import { statusLabel } from "./status-badge";

const explanations: Record<ClaimStatus, string> = {
  QUEUED: "We received your document. It is waiting for a reviewer.",
  IN_REVIEW: "A reviewer is looking at your claim and your records.",
  NEEDS_INFO: "We need more information from you. Look for a message explaining what to send.",
  DECIDED: "A decision has been made on your claim.",
};

interface FutureStep {
  key: string;
  label: string;
  explanation: string;
}

const reviewStep: FutureStep = { key: "IN_REVIEW", label: "In review", explanation: explanations.IN_REVIEW };
const decisionStep: FutureStep = {
  key: "DECISION",
  label: "Decision",
  explanation: "You’ll get a decision, or a request for more information if something is missing.",
};

/** What is still ahead, given where the claim is: QUEUED → IN_REVIEW → DECIDED or NEEDS_INFO. */
function stepsAhead(current: string): FutureStep[] {
  if (current === "QUEUED") return [reviewStep, decisionStep];
  if (current === "IN_REVIEW") return [decisionStep];
  if (current === "NEEDS_INFO")
    return [
      { ...reviewStep, label: "Back in review", explanation: "Once we have what we need, review continues." },
      decisionStep,
    ];
  return [];
}

/**
 * The claim's history as a vertical timeline, oldest first, followed by the steps still ahead
 * (greyed out). The current step carries aria-current="step". Entries that arrive over the claim
 * page's live stream appear without a reload.
 */
export function ClaimTimeline({
  timeline,
  currentStatus,
  labelledBy,
}: {
  timeline: TimelineEntry[];
  currentStatus: string;
  labelledBy: string;
}) {
  // Entries that came over the live stream carry their claim_events id: order by it (two changes in
  // one millisecond keep their order), else by time.
  const past = [...(timeline as (TimelineEntry & { id?: string })[])].sort((a, b) =>
    a.id !== undefined && b.id !== undefined && a.id !== b.id
      ? Number(BigInt(a.id) - BigInt(b.id))
      : Date.parse(a.at) - Date.parse(b.at),
  );
  const ahead = stepsAhead(currentStatus);
  const lastIndex = past.length - 1;

  return (
    <ol aria-labelledby={labelledBy} className="relative">
      {past.map((entry, i) => {
        const isCurrent = i === lastIndex;
        const hasNext = i < lastIndex || ahead.length > 0;
        return (
          <li
            key={entry.id ?? `${entry.status}-${entry.at}-${i}`}
            aria-current={isCurrent ? "step" : undefined}
            className="relative flex gap-4 pb-8 last:pb-0"
          >
            {hasNext && (
              <span aria-hidden="true" className="absolute top-8 left-[15px] h-[calc(100%-2rem)] w-0.5 bg-primary" />
            )}
            <span
              aria-hidden="true"
              className={`relative z-10 flex h-8 w-8 shrink-0 items-center justify-center rounded-full text-sm font-bold ${
                isCurrent ? "bg-primary text-white ring-4 ring-primary-lighter" : "bg-primary-dark text-white"
              }`}
            >
              {isCurrent ? "●" : "✓"}
            </span>
            <div className="space-y-1 pt-0.5">
              <p className="text-lg font-bold">
                {statusLabel(entry.status)}
                {isCurrent && <span className="ml-2 text-sm font-semibold text-primary">(current step)</span>}
              </p>
              <p className="text-muted">
                <time dateTime={entry.at}>{formatDateTime(entry.at)}</time>
                {entry.actor ? <> · by {entry.actor}</> : null}
              </p>
              {isClaimStatus(entry.status) && <p>{explanations[entry.status]}</p>}
              {entry.note && (
                <p className="rounded border-l-4 border-primary bg-surface px-3 py-2">
                  <span className="sr-only">Note: </span>
                  {entry.note}
                </p>
              )}
            </div>
          </li>
        );
      })}
      {ahead.map((step, i) => (
        <li key={step.key} className="relative flex gap-4 pb-8 text-muted last:pb-0">
          {i < ahead.length - 1 && (
            <span aria-hidden="true" className="absolute top-8 left-[15px] h-[calc(100%-2rem)] w-0.5 bg-line" />
          )}
          <span
            aria-hidden="true"
            className="relative z-10 flex h-8 w-8 shrink-0 items-center justify-center rounded-full border-2 border-dashed border-muted bg-white"
          />
          <div className="space-y-1 pt-0.5">
            <p className="text-lg font-semibold">
              {step.label} <span className="text-sm font-normal">(not yet)</span>
            </p>
            <p>{step.explanation}</p>
          </div>
        </li>
      ))}
    </ol>
  );
}
