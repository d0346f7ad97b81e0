import Link from "next/link";
import { Suspense } from "react";
import { Board } from "@/components/board/board";
import { DemoLogins } from "@/components/demo-logins";
import { agencyChoice } from "@/app/staff-page";
import { currentPrincipal } from "@/lib/auth/session";
import { demoModeInThisProcess, setting } from "@/lib/config/env";

function demoMode(): boolean {
  try {
    return demoModeInThisProcess();
  } catch {
    return false; // a misconfigured environment fails loudly elsewhere; the hint just stays hidden
  }
}

function maxUploadMb(): number {
  try {
    return Math.floor(setting("HMS_MAX_UPLOAD_BYTES") / (1024 * 1024));
  } catch {
    return 25;
  }
}

export default async function HomePage({
  searchParams,
}: {
  searchParams: Promise<{ [key: string]: string | string[] | undefined }>;
}) {
  const [principal, query] = await Promise.all([currentPrincipal(), searchParams]);
  const deniedPortal = query.denied === "portal";

  if (!principal) {
    return (
      <div className="space-y-10">
        <section className="max-w-3xl space-y-4">
          <h1 className="text-4xl font-bold tracking-tight">File your disability claim online</h1>
          <p className="text-xl text-muted">
            Upload your claim as a PDF, get a claim number right away, and follow each step until a decision is made.
          </p>
          <ol className="list-inside list-decimal space-y-1 text-lg">
            <li>Sign in with your account.</li>
            <li>Upload your signed claim form and supporting records as one PDF (up to {maxUploadMb()} MB).</li>
            <li>Check your claim’s status any time — we show every step.</li>
          </ol>
          <p className="pt-2">
            <Link href="/signin" className="btn btn-primary text-lg">
              Sign in to start
            </Link>
          </p>
        </section>
        {demoMode() && <DemoLogins />}
      </div>
    );
  }

  if (principal.role === "veteran") {
    return (
      <div className="space-y-8">
        <h1 className="text-4xl font-bold tracking-tight">Welcome, {principal.username}</h1>
        <section className="card max-w-2xl space-y-3" aria-labelledby="portal-card">
          <h2 id="portal-card" className="text-2xl font-bold">
            Your claims
          </h2>
          <p className="text-lg">Upload a new claim document, or check the status of a claim you already sent.</p>
          <p>
            <Link href="/portal" className="btn btn-primary">
              Go to my claims
            </Link>
          </p>
        </section>
      </div>
    );
  }

  const { canPickTenant, tenants } = await agencyChoice(principal);

  return (
    <div className="space-y-8">
      {deniedPortal && (
        <div role="alert" className="max-w-3xl rounded-md border-l-8 border-warning bg-warning-lighter p-4">
          <h2 className="font-bold">The claims portal is for veterans only</h2>
          <p>
            You are signed in as <strong>{principal.username}</strong>, an {principal.role} account. Veterans upload and
            follow their own claims there; operators and administrators work from this page.
          </p>
        </div>
      )}
      <Suspense fallback={<p className="text-muted">Loading the board…</p>}>
        <Board
          canPickTenant={canPickTenant}
          tenants={tenants}
          canRegister={principal.role === "admin"}
          scopeLabel={principal.tenantId}
        />
      </Suspense>
    </div>
  );
}
