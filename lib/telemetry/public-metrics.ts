import type http from "node:http";
import { toProblem, PROBLEM_CONTENT_TYPE } from "../http/problem";
import { metricsReader } from "./metrics-access";
import { metricsText } from "./metrics";
import { mergeExpositions } from "./metrics-merge";

/**
 * `GET /api/metrics` on the public port, answered by the data-plane process: the same access
 * rules as the web process's route (metrics-access.ts), this process's series (the gateway's
 * request and rate-limit families) merged with the web process's exposition (process metrics,
 * fleet gauges, intake). When the web process does not answer, this process's own series are
 * still served. Scrape each process directly instead when they run on several hosts.
 */
export async function servePublicMetrics(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  webUrl: URL | null,
): Promise<void> {
  const headers = new Headers();
  for (const name of ["authorization", "cookie"] as const) {
    const v = req.headers[name];
    if (typeof v === "string") headers.set(name, v);
  }
  try {
    const { tenant } = await metricsReader(new Request(`http://localhost${req.url ?? "/"}`, { headers }));
    const own = await metricsText({ tenant, fleet: false });
    let body = own.body;
    if (webUrl) {
      const web = await fetch(new URL(req.url ?? "/api/metrics", webUrl), {
        headers,
        signal: AbortSignal.timeout(10_000),
      }).catch(() => null);
      if (web?.ok) body = mergeExpositions(await web.text(), own.body);
      else if (web) await web.arrayBuffer();
    }
    res.writeHead(200, { "content-type": own.contentType, "cache-control": "no-store" });
    res.end(body);
  } catch (err) {
    const { body, headers: extra } = toProblem(err, "metrics");
    res.writeHead(body.status, { ...extra, "content-type": PROBLEM_CONTENT_TYPE, "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  }
}
