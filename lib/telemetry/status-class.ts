/** HTTP status classes as the metrics and the traffic roll-ups count them. */
export const STATUS_CLASSES = ["2xx", "3xx", "4xx", "5xx"] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/**
 * Index into STATUS_CLASSES. A 1xx is never the final answer a client is left with, so it counts
 * as 2xx; anything that is not an HTTP status at all (0, NaN, 600+) counts as 5xx — it means we
 * had no proper answer to give.
 */
export function statusClassIndex(status: number): 0 | 1 | 2 | 3 {
  if (!(status >= 100 && status < 600)) return 3;
  if (status < 300) return 0;
  if (status < 400) return 1;
  if (status < 500) return 2;
  return 3;
}
