import { z } from "zod";

const MB = 1024 * 1024;

const boolish = z
  .enum(["1", "0", "true", "false", "yes", "no", ""])
  .optional()
  .transform((v) => (v === undefined || v === "" ? undefined : ["1", "true", "yes"].includes(v)));

/** Every environment variable the system reads, parsed once and refused loudly when wrong. */
export const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z.string().url(),
  DATABASE_OWNER_URL: z.string().url().optional(),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  HMS_DEMO: boolish,
  HMS_DEMO_PASSWORD: z.string().min(1).default("demo-pass"),
  HMS_JWT_ISSUER: z.string().min(1).default("hms-sys"),
  HMS_JWT_AUDIENCE: z.string().min(1).default("hms-sys"),
  HMS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),
  HMS_MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(100 * MB, "HMS_MAX_UPLOAD_BYTES may be at most 100 MB")
    .default(25 * MB),
  HMS_DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  NEXTAUTH_SECRET: z.string().min(32, "NEXTAUTH_SECRET must be at least 32 characters").optional(),
  HMS_WORKER_ID: z.string().min(1).max(100).optional(),
  HMS_DEMO_FLEET_PORT: z.coerce.number().int().min(1024).max(65_000).default(7100),
  /** the data-plane process: where everything that is not the data plane goes (the web process) */
  HMS_WEB_URL: z.string().url().optional(),
  /** the web process's port when `npm start` runs it behind the data-plane process (default: a free one) */
  HMS_WEB_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** the address a web or data-plane process listens on */
  HMS_LISTEN_HOST: z.string().min(1).default("0.0.0.0"),
  HMS_TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  HMS_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** bearer token a Prometheus scraper sends to GET /api/metrics (unset: only operator sign-ins) */
  // HMAC key of the audit hash chain (issue 5); the same on every process. npm start fills it
  // from .data/secrets.json when unset.
  HMS_AUDIT_KEY: z.string().min(32, "HMS_AUDIT_KEY must be at least 32 characters").optional(),
  // Stuck-claims watchdog: QUEUED/IN_REVIEW claims without a status change for longer are flagged.
  HMS_STUCK_CLAIM_MINUTES: z.coerce.number().int().min(1).max(43_200).default(30),
  // Retired audit keys (comma-separated): seals made with them still verify.
  HMS_AUDIT_PREVIOUS_KEYS: z.string().optional(),
  HMS_METRICS_TOKEN: z.string().min(16, "HMS_METRICS_TOKEN must be at least 16 characters").optional(),
  // Rate limit for tenants without a configured one (unset = unlimited); burst defaults to ceil(rps).
  HMS_DEFAULT_TENANT_RPS: z.coerce.number().positive().max(100_000).optional(),
  HMS_DEFAULT_TENANT_BURST: z.coerce.number().int().min(1).max(1_000_000).optional(),
});

export type Env = z.infer<typeof envSchema>;

let cached: Env | undefined;

export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

/** The process-wide environment (parsed on first use). */
export function env(): Env {
  cached ??= loadEnv();
  return cached;
}

/**
 * Demo mode (ARCHITECTURE.md §5): HMS_DEMO decides when set; otherwise on with the embedded
 * database outside production, and off against an external DATABASE_URL, so demo users are never
 * seeded into a real database by accident.
 */
export function isDemoMode(e: Env, opts: { embeddedDatabase: boolean }): boolean {
  if (e.HMS_DEMO !== undefined) return e.HMS_DEMO;
  return opts.embeddedDatabase && e.NODE_ENV !== "production";
}

/**
 * One setting read at request time (so tests and operators may change it). A bad value is an
 * operator's mistake, not the client's: it surfaces as a logged 500, never as a 4xx.
 */
export function setting<K extends keyof typeof envSchema.shape>(key: K): Env[K] {
  const r = envSchema.shape[key].safeParse(process.env[key]);
  if (!r.success) throw new Error(`Invalid ${key}: ${r.error.issues.map((i) => i.message).join("; ")}`);
  return r.data as Env[K];
}

/** In the web and worker processes: `npm start` decided demo mode and exported HMS_DEMO=1/0. */
export function demoModeInThisProcess(): boolean {
  return setting("HMS_DEMO") ?? false;
}
