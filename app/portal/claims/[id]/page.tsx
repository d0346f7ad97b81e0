import type { Metadata } from "next";
import Link from "next/link";
import { notFound, redirect } from "next/navigation";
import { ClaimDetail } from "@/components/claim-detail";
import { currentPrincipal } from "@/lib/auth/session";

/** Claim ids are `CLM-<number>`; anything else cannot exist, so it is a 404 without an API call. */
const CLAIM_ID = /^CLM-\d{1,18}$/;

function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const id = decodeId((await params).id);
  return { title: CLAIM_ID.test(id) ? `Claim ${id}` : "Claim" };
}

export default async function ClaimPage({ params }: { params: Promise<{ id: string }> }) {
  const id = decodeId((await params).id);
  const principal = await currentPrincipal();
  if (!principal) redirect(`/signin?callbackUrl=${encodeURIComponent(`/portal/claims/${id}`)}`);
  if (principal.role !== "veteran") redirect("/?denied=portal");
  if (!CLAIM_ID.test(id)) notFound();

  return (
    <div className="space-y-6">
      <nav aria-label="Breadcrumb">
        <Link href="/portal" className="font-semibold">
          <span aria-hidden="true">← </span>My claims
        </Link>
      </nav>
      <ClaimDetail claimId={id} />
    </div>
  );
}
