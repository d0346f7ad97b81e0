import { openClaimDocument } from "@/lib/claims/claim-queries";
import { authedRoute, param } from "@/lib/http/route";

export const dynamic = "force-dynamic";

export const GET = authedRoute({}, async (ctx) => {
  const doc = await openClaimDocument(ctx.principal, param(ctx, "id"), ctx.meta);
  return new Response(doc.stream, {
    headers: {
      "content-type": doc.contentType,
      "content-length": String(doc.sizeBytes),
      "content-disposition": `attachment; filename="${doc.claimId}.pdf"`,
      "repr-digest": `sha-256=:${Buffer.from(doc.sha256, "hex").toString("base64")}:`,
      "x-content-sha256": doc.sha256,
      "cache-control": "private, no-store",
    },
  });
});
