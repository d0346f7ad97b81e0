import { AppError } from "@/lib/http/app-error";
import { publicRoute } from "@/lib/http/route";

// Any /api path no route claims: a problem+json 404, never Next's HTML page.
export const dynamic = "force-dynamic";

const notFound = publicRoute(async ({ req }) => {
  throw new AppError("not_found", `No API endpoint at ${new URL(req.url).pathname}.`);
});

export { notFound as GET, notFound as POST, notFound as PUT, notFound as PATCH, notFound as DELETE };
