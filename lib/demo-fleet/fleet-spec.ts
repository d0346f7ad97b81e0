/**
 * The demo fleet (demo mode only): a few tiny services on 127.0.0.1 with `/health` endpoints, in
 * two regions, so a newcomer sees green, yellow and red within a minute of `npm start`.
 */
export const fleetModes = ["ok", "slow", "fail", "flap", "down"] as const;
export type FleetMode = (typeof fleetModes)[number];

export interface FleetInstanceSpec {
  key: string;
  service: string;
  tenant: string;
  region: string;
  /** offset from the fleet's base port */
  portOffset: number;
}

export const fleetServices: { name: string; tenant: string; description: string }[] = [
  { name: "doc-service", tenant: "agency-a", description: "Stores and renders claim documents (demo fleet)" },
  { name: "claim-review", tenant: "agency-a", description: "Reviews queued claims (demo fleet)" },
  { name: "notify", tenant: "agency-b", description: "Sends status notifications (demo fleet)" },
  // Each agency has a reviewer: the demo fleet process runs one claim-review queue consumer per
  // tenant (lib/demo-fleet/claim-review-consumer.ts), paused while all its instances are down or failing.
  { name: "claim-review", tenant: "agency-b", description: "Reviews queued claims (demo fleet)" },
];

export const fleetInstances: FleetInstanceSpec[] = [
  { key: "doc-service-primary", service: "doc-service", tenant: "agency-a", region: "primary", portOffset: 1 },
  { key: "doc-service-secondary", service: "doc-service", tenant: "agency-a", region: "secondary", portOffset: 2 },
  { key: "claim-review-primary", service: "claim-review", tenant: "agency-a", region: "primary", portOffset: 3 },
  { key: "claim-review-secondary", service: "claim-review", tenant: "agency-a", region: "secondary", portOffset: 4 },
  { key: "notify-primary", service: "notify", tenant: "agency-b", region: "primary", portOffset: 5 },
  { key: "claim-review-b-primary", service: "claim-review", tenant: "agency-b", region: "primary", portOffset: 6 },
];

export function instanceUrl(spec: FleetInstanceSpec, basePort: number): string {
  return `http://127.0.0.1:${basePort + spec.portOffset}`;
}

export function controlUrl(basePort: number): string {
  return `http://127.0.0.1:${basePort}`;
}
