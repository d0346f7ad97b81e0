import { listDemoInstances } from "@/lib/demo-fleet/fleet-control";
import { authedRoute, json } from "@/lib/http/route";

export const dynamic = "force-dynamic";

export const GET = authedRoute({ roles: ["operator", "admin"] }, async ({ principal }) =>
  json(await listDemoInstances(principal)),
);
