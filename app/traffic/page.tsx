import type { Metadata } from "next";
import { Suspense } from "react";
import { NotForVeterans } from "@/components/role-gate";
import { TrafficView } from "@/components/traffic/traffic-view";
import { agencyChoice, signedInOrRedirect } from "@/app/staff-page";

export const metadata: Metadata = { title: "Traffic" };

/** Per-agency traffic through the gateway and claim intake (operators and administrators). */
export default async function TrafficPage() {
  const principal = await signedInOrRedirect("/traffic");
  if (principal.role === "veteran") return <NotForVeterans title="Traffic is for operators and administrators" />;
  const { canPickTenant, tenants } = await agencyChoice(principal);

  return (
    <Suspense fallback={<p className="text-muted">Loading traffic…</p>}>
      <TrafficView canPickTenant={canPickTenant} tenants={tenants} scopeLabel={principal.tenantId} />
    </Suspense>
  );
}
