import { isClaimStatus, type ClaimStatus } from "./queries/claims";

interface StatusStyle {
  label: string;
  /** A shape as well as a colour, so the status never depends on colour alone. */
  icon: string;
  className: string;
}

export const statusStyles: Record<ClaimStatus, StatusStyle> = {
  QUEUED: { label: "Queued", icon: "○", className: "bg-primary-lighter text-primary-darker ring-primary" },
  IN_REVIEW: { label: "In review", icon: "◐", className: "bg-warning-lighter text-ink ring-warning" },
  NEEDS_INFO: { label: "Needs information", icon: "!", className: "bg-error-lighter text-error-dark ring-error" },
  DECIDED: { label: "Decided", icon: "✓", className: "bg-success-lighter text-success-dark ring-success" },
};

export function statusLabel(status: string): string {
  return isClaimStatus(status) ? statusStyles[status].label : status.replace(/_/g, " ").toLowerCase();
}

/** A claim status as a colour-coded pill with an icon and words. */
export function StatusBadge({ status }: { status: string }) {
  const style = isClaimStatus(status)
    ? statusStyles[status]
    : { label: statusLabel(status), icon: "?", className: "bg-surface text-ink ring-line" };
  return (
    <span
      className={`inline-flex items-center gap-1.5 whitespace-nowrap rounded-full px-2.5 py-0.5 text-sm font-semibold ring-1 ring-inset ${style.className}`}
    >
      <span aria-hidden="true" className="font-bold">
        {style.icon}
      </span>
      {style.label}
    </span>
  );
}
