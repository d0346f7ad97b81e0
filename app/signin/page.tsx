import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { DemoLogins } from "@/components/demo-logins";
import { safeCallbackUrl } from "@/components/safe-callback-url";
import { SignInForm } from "@/components/sign-in-form";
import { currentPrincipal } from "@/lib/auth/session";
import { SIGN_IN_UNAVAILABLE } from "@/lib/auth/next-auth-options";
import { demoModeInThisProcess } from "@/lib/config/env";

export const metadata: Metadata = { title: "Sign in" };

function demoMode(): boolean {
  try {
    return demoModeInThisProcess();
  } catch {
    return false;
  }
}

/** next-auth redirects here with ?error=… when a non-JS sign-in fails or a page needs a session. */
function messageFor(error: string | undefined): string | null {
  if (!error) return null;
  if (error === "CredentialsSignin") return "Unknown username or wrong password.";
  if (error === "SessionRequired") return "Please sign in to see that page.";
  if (error === SIGN_IN_UNAVAILABLE) return "Sign-in is not available right now. Please try again in a moment.";
  return "Sign-in did not work. Please try again.";
}

export default async function SignInPage({
  searchParams,
}: {
  searchParams: Promise<{ [key: string]: string | string[] | undefined }>;
}) {
  const query = await searchParams;
  const callbackUrl = safeCallbackUrl(query.callbackUrl);
  const principal = await currentPrincipal();
  if (principal) redirect(callbackUrl);

  const error = typeof query.error === "string" ? query.error : undefined;

  return (
    <div className="grid gap-10 md:grid-cols-[minmax(0,28rem)_minmax(0,1fr)] md:items-start">
      <section aria-labelledby="signin-heading" className="space-y-6">
        <h1 id="signin-heading" className="text-4xl font-bold tracking-tight">
          Sign in
        </h1>
        <SignInForm callbackUrl={callbackUrl} initialError={messageFor(error)} />
      </section>
      {demoMode() && <DemoLogins />}
    </div>
  );
}
