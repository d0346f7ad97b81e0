import type { Metadata } from "next";
import Link from "next/link";
import { redirect } from "next/navigation";
import { AdminOnly } from "@/components/admin/admin-only";
import { RegistryImport } from "@/components/admin/registry-import";
import { currentPrincipal } from "@/lib/auth/session";
import { tenantIds } from "@/lib/tenancy/tenant-ids";

export const metadata: Metadata = { title: "Import registry.yml" };

export default async function RegistryImportPage() {
  const principal = await currentPrincipal();
  if (!principal) redirect(`/signin?callbackUrl=${encodeURIComponent("/admin/registry")}`);
  if (principal.role !== "admin") return <AdminOnly role={principal.role} />;
  const global = principal.tenantId === null;
  const tenants = global ? await tenantIds() : [];

  return (
    <div className="space-y-6">
      <nav aria-label="Breadcrumb">
        <Link href="/admin/services" className="font-semibold">
          <span aria-hidden="true">← </span>Service registry
        </Link>
      </nav>
      <div className="max-w-3xl space-y-2">
        <h1 className="text-4xl font-bold tracking-tight">Import registry.yml</h1>
        <p className="text-lg text-muted">
          Register or change many services from one file. You see exactly what would change before anything is stored; a
          file with any error imports nothing.{" "}
          <a href="/api/v1/registry/export" download="registry.yml">
            Export the current registry
          </a>{" "}
          to start from it.
        </p>
      </div>
      <RegistryImport tenants={tenants} chooseTenant={global} />
    </div>
  );
}
