import type { Metadata } from "next";
import Link from "next/link";
import { redirect } from "next/navigation";
import { Suspense } from "react";
import { TrafficView } from "@/components/traffic/traffic-view";
import { currentPrincipal } from "@/lib/auth/session";
import { tenantIds } from "@/lib/tenancy/tenant-ids";

export const metadata: Metadata = { title: "Traffic" };

/** Per-agency traffic through the gateway and claim intake (operators and administrators). */
export default async function TrafficPage() {
  const principal = await currentPrincipal();
  if (!principal) redirect(`/signin?callbackUrl=${encodeURIComponent("/traffic")}`);
  if (principal.role === "veteran") {
    return (
      <div role="alert" className="max-w-2xl space-y-3 rounded-md border-l-8 border-warning bg-warning-lighter p-4">
        <h1 className="text-2xl font-bold">Traffic is for operators and administrators</h1>
        <p>
          You are signed in as a veteran. <Link href="/portal">Go to your claims</Link>.
        </p>
      </div>
    );
  }
  const globalAdmin = principal.role === "admin" && principal.tenantId === null;

  return (
    <Suspense fallback={<p className="text-muted">Loading traffic…</p>}>
      <TrafficView
        canPickTenant={globalAdmin}
        tenants={globalAdmin ? await tenantIds() : []}
        scopeLabel={principal.tenantId}
      />
    </Suspense>
  );
}
