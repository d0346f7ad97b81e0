/**
 * Collects phase durations for the `Server-Timing` response header (W3C), so a client, the
 * browser's devtools and `npm run bench` can see where a request's time went.
 */
export class ServerTiming {
  private readonly phases: [string, number][] = [];
  private last = performance.now();

  /** Ends the current phase under `name` and starts the next one. */
  lap(name: string): void {
    const now = performance.now();
    this.phases.push([name, now - this.last]);
    this.last = now;
  }

  header(): string {
    return this.phases.map(([n, d]) => `${n};dur=${d.toFixed(1)}`).join(", ");
  }
}
