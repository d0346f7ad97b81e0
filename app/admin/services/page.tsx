import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { Suspense } from "react";
import { AdminOnly } from "@/components/admin/admin-only";
import { ServicesList } from "@/components/admin/services-list";
import { currentPrincipal } from "@/lib/auth/session";
import { tenantIds } from "@/lib/tenancy/tenant-ids";

export const metadata: Metadata = { title: "Service registry" };

export default async function AdminServicesPage() {
  const principal = await currentPrincipal();
  if (!principal) redirect(`/signin?callbackUrl=${encodeURIComponent("/admin/services")}`);
  if (principal.role !== "admin") return <AdminOnly role={principal.role} />;
  const global = principal.tenantId === null;

  return (
    <Suspense fallback={<p className="text-muted">Loading services…</p>}>
      <ServicesList canPickTenant={global} tenants={global ? await tenantIds() : []} />
    </Suspense>
  );
}
