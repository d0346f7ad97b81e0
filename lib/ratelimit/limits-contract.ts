import { z } from "zod";
import { serviceName } from "../registry/service-schema";

/**
 * The rate limits' request and response shapes (ARCHITECTURE.md §7): one schema for
 * `PUT /api/v1/tenants/<tenant>/limits`, the admin form's field rules and the API docs, so they
 * refuse the same things with the same words. Imports nothing server-side: the form uses it too.
 */

/** Requests per second: the steady rate. */
export const RPS_MAX = 100_000;
/** Burst: the most requests admitted at once after a quiet spell. */
export const BURST_MAX = 1_000_000;

const rps = z
  .number({ error: "must be a number of requests per second" })
  .positive("must be more than 0")
  .max(RPS_MAX, `must be at most ${RPS_MAX}`);
const burst = z
  .number({ error: "must be a whole number of requests" })
  .int("must be a whole number")
  .min(1, "must be at least 1")
  .max(BURST_MAX, `must be at most ${BURST_MAX}`);

/** A rate and a burst: one token bucket. */
export const bucketLimit = z.strictObject({ rps, burst });
export type BucketLimitInput = z.infer<typeof bucketLimit>;

/**
 * `{"rps", "burst", "service"?, "perCaller"?: {"rps", "burst"}}`. `perCaller` limits each user or
 * service token inside the tenant-wide limit, so it belongs to the tenant-wide limit only; leaving
 * it out of a write removes it.
 */
export const limitInput = z
  .strictObject({
    rps,
    burst,
    service: serviceName.nullish(),
    perCaller: bucketLimit.nullish(),
  })
  .superRefine((v, ctx) => {
    if (v.service && v.perCaller) {
      ctx.addIssue({
        code: "custom",
        path: ["perCaller"],
        message: "applies to the agency's limit for all traffic only: leave out either service or perCaller",
      });
    }
  });
export type LimitInput = z.infer<typeof limitInput>;

export const limitScopeQuery = z.object({ service: serviceName.optional() });

/** One stored limit, as `GET` lists it and `PUT` answers it. */
export const limitView = z.object({
  tenant: z.string(),
  /** null = the tenant-wide limit */
  service: z.string().nullable(),
  rps: z.number(),
  burst: z.number().int(),
  /** the per-caller limit inside the tenant-wide one; null when none (and always for a service) */
  perCaller: bucketLimit.nullable(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
export type LimitView = z.infer<typeof limitView>;

export const limitList = z.object({ items: z.array(limitView), nextCursor: z.null() });
