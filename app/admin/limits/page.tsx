import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { AdminOnly } from "@/components/admin/admin-only";
import { RateLimitForm } from "@/components/admin/rate-limit-form";
import { currentPrincipal } from "@/lib/auth/session";
import { limitsOverview, type TenantLimits } from "@/lib/ratelimit/limits-repository";

export const metadata: Metadata = { title: "Rate limits" };

export default async function AdminLimitsPage() {
  const principal = await currentPrincipal();
  if (!principal) redirect(`/signin?callbackUrl=${encodeURIComponent("/admin/limits")}`);
  if (principal.role !== "admin") return <AdminOnly role={principal.role} />;

  let tenants: TenantLimits[] | null;
  try {
    tenants = await limitsOverview(principal);
  } catch {
    tenants = null; // the database is down: say so instead of an error page
  }

  return (
    <div className="space-y-6">
      <div className="max-w-3xl space-y-2">
        <h1 className="text-4xl font-bold tracking-tight">Rate limits</h1>
        <p className="text-lg text-muted">
          How many requests per second each agency may send through the gateway and to claim intake, with a burst for
          short peaks, and optionally a share for each caller (user or service token) so one caller cannot use up its
          agency’s limit. Requests over the limit get <code>429 Too Many Requests</code> with <code>Retry-After</code>.
          Changes reach every replica within a second.
        </p>
      </div>
      {tenants ? (
        <RateLimitForm tenants={tenants} chooseTenant={principal.tenantId === null} />
      ) : (
        <div role="alert" className="space-y-2 rounded-md border-l-8 border-error-dark bg-error-lighter p-4">
          <p className="font-bold">We couldn’t load the rate limits.</p>
          <p>The database is not answering. Reload the page in a moment.</p>
        </div>
      )}
    </div>
  );
}
