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
  HMS_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type Env = z.infer<typeof envSchema>;

let cached: Env | undefined;

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
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

/** Demo mode: on by default, off in production unless HMS_DEMO=1. */
export function isDemoMode(e: Env = env()): boolean {
  if (e.HMS_DEMO !== undefined) return e.HMS_DEMO;
  return e.NODE_ENV !== "production";
}
