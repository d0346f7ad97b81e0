import type { Metadata } from "next";
import Link from "next/link";
import { redirect } from "next/navigation";
import { AdminOnly } from "@/components/admin/admin-only";
import { ServiceForm } from "@/components/admin/service-form";
import { currentPrincipal } from "@/lib/auth/session";
import { tenantIds } from "@/lib/tenancy/tenant-ids";

export const metadata: Metadata = { title: "Register a service" };

export default async function NewServicePage({
  searchParams,
}: {
  searchParams: Promise<{ [key: string]: string | string[] | undefined }>;
}) {
  const [principal, query] = await Promise.all([currentPrincipal(), searchParams]);
  if (!principal) redirect(`/signin?callbackUrl=${encodeURIComponent("/admin/services/new")}`);
  if (principal.role !== "admin") return <AdminOnly role={principal.role} />;
  const global = principal.tenantId === null;
  const tenants = global ? await tenantIds() : [];
  const requested = typeof query.tenant === "string" && tenants.includes(query.tenant) ? query.tenant : null;

  return (
    <div className="max-w-3xl space-y-6">
      <nav aria-label="Breadcrumb">
        <Link href="/admin/services" className="font-semibold">
          <span aria-hidden="true">← </span>Service registry
        </Link>
      </nav>
      <div className="space-y-2">
        <h1 className="text-4xl font-bold tracking-tight">Register a service</h1>
        <p className="text-lg text-muted">
          Name it, list where it runs, and say how to check it. Test each URL before saving; the board shows the service
          within seconds of registering it. Many services at once?{" "}
          <Link href="/admin/registry">Import a registry.yml</Link>.
        </p>
      </div>
      <ServiceForm
        mode="create"
        tenants={tenants}
        chooseTenant={global}
        defaultTenant={global ? requested : principal.tenantId}
      />
    </div>
  );
}
