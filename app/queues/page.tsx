import type { Metadata } from "next";
import { Suspense } from "react";
import { QueuesView } from "@/components/queues/queues-view";
import { NotForVeterans } from "@/components/role-gate";
import { agencyChoice, signedInOrRedirect } from "@/app/staff-page";

export const metadata: Metadata = { title: "Queues" };

/** HMS-SVC queues, live: operators see their agency's, global admins pick an agency. */
export default async function QueuesPage() {
  const principal = await signedInOrRedirect("/queues");
  if (principal.role === "veteran") {
    return <NotForVeterans title="Queues are for operators and administrators" />;
  }
  const { canPickTenant, tenants } = await agencyChoice(principal);

  return (
    <Suspense fallback={<p className="text-muted">Loading the queues…</p>}>
      <QueuesView
        canPickTenant={canPickTenant}
        tenants={tenants}
        scopeLabel={principal.tenantId}
        isAdmin={principal.role === "admin"}
      />
    </Suspense>
  );
}
