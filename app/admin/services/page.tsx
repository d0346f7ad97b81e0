import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { Suspense } from "react";
import { AdminOnly } from "@/components/admin/admin-only";
import { ServicesList } from "@/components/admin/services-list";
import { currentPrincipal } from "@/lib/auth/session";
import { db } from "@/lib/db/prisma";

export const metadata: Metadata = { title: "Service registry" };

async function agencyIds(): Promise<string[]> {
  try {
    const rows = await db().tenant.findMany({ select: { id: true }, orderBy: { id: "asc" } });
    return rows.map((r) => r.id);
  } catch {
    return []; // the list itself reports an outage
  }
}

export default async function AdminServicesPage() {
  const principal = await currentPrincipal();
  if (!principal) redirect(`/signin?callbackUrl=${encodeURIComponent("/admin/services")}`);
  if (principal.role !== "admin") return <AdminOnly role={principal.role} />;
  const global = principal.tenantId === null;

  return (
    <Suspense fallback={<p className="text-muted">Loading services…</p>}>
      <ServicesList canPickTenant={global} tenants={global ? await agencyIds() : []} />
    </Suspense>
  );
}
