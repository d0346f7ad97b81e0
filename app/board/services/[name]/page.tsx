import type { Metadata } from "next";
import Link from "next/link";
import { notFound, redirect } from "next/navigation";
import { ServiceDetail } from "@/components/board/service-detail";
import { NotForVeterans } from "@/components/role-gate";
import { ServiceTokensPanel } from "@/components/services/service-tokens-panel";
import { currentPrincipal } from "@/lib/auth/session";

/** Service names are DNS labels; anything else cannot exist, so it is a 404 without an API call. */
const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function decode(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

type SearchParams = Promise<{ [key: string]: string | string[] | undefined }>;

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }): Promise<Metadata> {
  const name = decode((await params).name);
  return { title: SERVICE_NAME.test(name) ? `${name} — service` : "Service" };
}

/** One service's live page (`/services` itself is the JSON alias of the API, so pages live under /board). */
export default async function ServicePage({
  params,
  searchParams,
}: {
  params: Promise<{ name: string }>;
  searchParams: SearchParams;
}) {
  const [{ name: raw }, query, principal] = await Promise.all([params, searchParams, currentPrincipal()]);
  const name = decode(raw);
  const tenantParam = typeof query.tenant === "string" && query.tenant ? query.tenant : null;
  const here = `/board/services/${encodeURIComponent(name)}${tenantParam ? `?tenant=${encodeURIComponent(tenantParam)}` : ""}`;

  if (!principal) redirect(`/signin?callbackUrl=${encodeURIComponent(here)}`);
  if (principal.role === "veteran") {
    return <NotForVeterans title="The service board is for operators and administrators" />;
  }
  if (!SERVICE_NAME.test(name)) notFound();

  // Operators only ever see their own agency; a global admin names the agency in the address.
  const tenant = principal.tenantId === null ? tenantParam : principal.tenantId;

  return (
    <div className="space-y-6">
      <nav aria-label="Breadcrumb">
        <Link
          href={tenant && principal.tenantId === null ? `/?tenant=${encodeURIComponent(tenant)}` : "/"}
          className="font-semibold"
        >
          <span aria-hidden="true">← </span>Service board
        </Link>
      </nav>
      <ServiceDetail name={name} tenant={tenant} isAdmin={principal.role === "admin"} />
      {principal.role === "admin" && tenant && (
        <ServiceTokensPanel service={name} tenant={principal.tenantId === null ? tenant : null} />
      )}
    </div>
  );
}
