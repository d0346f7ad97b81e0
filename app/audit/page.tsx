import type { Metadata } from "next";
import { Suspense } from "react";
import { AuditView } from "@/components/audit/audit-view";
import { NotForVeterans } from "@/components/role-gate";
import { agencyChoice, signedInOrRedirect } from "@/app/staff-page";

export const metadata: Metadata = { title: "Audit trail" };

/** The audit trail and its chain status: operators see their agency's, global admins pick one. */
export default async function AuditPage() {
  const principal = await signedInOrRedirect("/audit");
  if (principal.role === "veteran") {
    return <NotForVeterans title="The audit trail is for operators and administrators" />;
  }
  const { canPickTenant, tenants } = await agencyChoice(principal);
  return (
    <Suspense fallback={<p className="text-muted">Loading the audit trail…</p>}>
      <AuditView canPickTenant={canPickTenant} tenants={tenants} scopeLabel={principal.tenantId} />
    </Suspense>
  );
}
