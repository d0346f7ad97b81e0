import type { Metadata } from "next";
import Link from "next/link";
import { notFound, redirect } from "next/navigation";
import { AdminOnly } from "@/components/admin/admin-only";
import { ServiceForm } from "@/components/admin/service-form";
import { currentPrincipal } from "@/lib/auth/session";

const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function decode(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }): Promise<Metadata> {
  const name = decode((await params).name);
  return { title: SERVICE_NAME.test(name) ? `Edit ${name}` : "Edit service" };
}

export default async function EditServicePage({
  params,
  searchParams,
}: {
  params: Promise<{ name: string }>;
  searchParams: Promise<{ [key: string]: string | string[] | undefined }>;
}) {
  const [{ name: raw }, query, principal] = await Promise.all([params, searchParams, currentPrincipal()]);
  const name = decode(raw);
  const tenantParam = typeof query.tenant === "string" && query.tenant ? query.tenant : null;
  const here = `/admin/services/${encodeURIComponent(name)}/edit${tenantParam ? `?tenant=${encodeURIComponent(tenantParam)}` : ""}`;
  if (!principal) redirect(`/signin?callbackUrl=${encodeURIComponent(here)}`);
  if (principal.role !== "admin") return <AdminOnly role={principal.role} />;
  if (!SERVICE_NAME.test(name)) notFound();
  const tenant = principal.tenantId ?? tenantParam;

  return (
    <div className="max-w-3xl space-y-6">
      <nav aria-label="Breadcrumb">
        <Link href="/admin/services" className="font-semibold">
          <span aria-hidden="true">← </span>Service registry
        </Link>
      </nav>
      <div className="space-y-1">
        <h1 className="text-4xl font-bold tracking-tight break-words">Edit {name}</h1>
        {tenant && <p className="text-muted">Service of {tenant}</p>}
      </div>
      <ServiceForm mode="edit" name={name} tenant={tenant} />
    </div>
  );
}
