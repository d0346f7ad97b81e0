import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { ClaimsTable } from "@/components/claims-table";
import { UploadDropzone } from "@/components/upload-dropzone";
import { currentPrincipal } from "@/lib/auth/session";
import { setting } from "@/lib/config/env";

export const metadata: Metadata = { title: "My claims" };

const DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024;

function maxUploadBytes(): number {
  try {
    return setting("HMS_MAX_UPLOAD_BYTES");
  } catch {
    return DEFAULT_MAX_UPLOAD_BYTES; // the server enforces its own limit either way
  }
}

export default async function PortalPage() {
  const principal = await currentPrincipal();
  if (!principal) redirect(`/signin?callbackUrl=${encodeURIComponent("/portal")}`);
  if (principal.role !== "veteran") redirect("/?denied=portal");

  return (
    <div className="space-y-12">
      <div className="max-w-3xl space-y-3">
        <h1 className="text-4xl font-bold tracking-tight">Your disability claims</h1>
        <p className="text-xl text-muted">
          Upload your claim as one PDF — your signed claim form together with any supporting records. You’ll get a claim
          number straight away and can follow every step here.
        </p>
      </div>

      <section aria-labelledby="upload-heading" className="space-y-4">
        <h2 id="upload-heading" className="text-2xl font-bold">
          Upload a claim document
        </h2>
        <UploadDropzone maxBytes={maxUploadBytes()} />
      </section>

      <section aria-labelledby="claims-heading" className="space-y-4">
        <h2 id="claims-heading" className="text-2xl font-bold">
          My claims
        </h2>
        <ClaimsTable labelledBy="claims-heading" />
      </section>
    </div>
  );
}
