import { publicRoute } from "@/lib/http/route";
import { metricsReader } from "@/lib/telemetry/metrics-access";
import { metricsText } from "@/lib/telemetry/metrics";

export const dynamic = "force-dynamic";

/** Prometheus text exposition of this replica (operators, admins, or the scrape token). */
export const GET = publicRoute(async ({ req }) => {
  const { tenant } = await metricsReader(req);
  const { contentType, body } = await metricsText({ tenant });
  return new Response(body, { headers: { "content-type": contentType, "cache-control": "no-store" } });
});
