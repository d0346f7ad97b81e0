import type { Metadata } from "next";
import { Suspense } from "react";
import { CircuitsView } from "@/components/circuits/circuits-view";
import { NotForVeterans } from "@/components/role-gate";
import { agencyChoice, signedInOrRedirect } from "@/app/staff-page";

export const metadata: Metadata = { title: "Circuit breakers" };

/** Every breaker, live: operators see their agency's, global admins pick an agency. */
export default async function CircuitsPage() {
  const principal = await signedInOrRedirect("/circuits");
  if (principal.role === "veteran") {
    return <NotForVeterans title="Circuit breakers are for operators and administrators" />;
  }
  const { canPickTenant, tenants } = await agencyChoice(principal);

  return (
    <Suspense fallback={<p className="text-muted">Loading the breakers…</p>}>
      <CircuitsView
        canPickTenant={canPickTenant}
        tenants={tenants}
        canRegister={principal.role === "admin"}
        scopeLabel={principal.tenantId}
      />
    </Suspense>
  );
}
