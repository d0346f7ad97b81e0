import type { Metadata } from "next";
import { ClaimsTable } from "@/components/claims-table";
import { StuckClaimsPanel } from "@/components/claims/stuck-claims-panel";
import { NotForVeterans } from "@/components/role-gate";
import { signedInOrRedirect } from "@/app/staff-page";

export const metadata: Metadata = { title: "Claims review" };

/**
 * Operators (and admins, through the audited path): claims waiting longer than the watchdog's
 * threshold, next to the health of the claim-review service and its queue, then every claim of
 * the agency with stuck ones flagged.
 */
export default async function ReviewPage() {
  const principal = await signedInOrRedirect("/review");
  if (principal.role === "veteran") return <NotForVeterans title="Claims review is for operators and administrators" />;

  return (
    <div className="space-y-10">
      <div className="max-w-3xl space-y-2">
        <h1 className="text-3xl font-bold tracking-tight">Claims review</h1>
        <p className="text-muted">
          Claims move QUEUED → IN_REVIEW → DECIDED or NEEDS_INFO as the agency&apos;s claim-review service works the
          queue. Claims that wait too long are flagged here, with the reviewer&apos;s health beside them.
        </p>
      </div>
      <section aria-labelledby="stuck-heading" className="space-y-4">
        <h2 id="stuck-heading" className="text-2xl font-bold">
          Stuck claims
        </h2>
        <StuckClaimsPanel labelledBy="stuck-heading" callbackPath="/review" />
      </section>
      <section aria-labelledby="claims-heading" className="space-y-4">
        <h2 id="claims-heading" className="text-2xl font-bold">
          {principal.tenantId ? `Claims of ${principal.tenantId}` : "Claims of every agency"}
        </h2>
        <ClaimsTable labelledBy="claims-heading" flagStuck />
      </section>
    </div>
  );
}
