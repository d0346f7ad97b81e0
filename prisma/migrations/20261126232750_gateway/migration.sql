-- CreateEnum
CREATE TYPE "CircuitState" AS ENUM ('closed', 'open', 'half_open');

-- AlterTable
ALTER TABLE "services" ADD COLUMN     "breaker_consecutive_failures" INTEGER NOT NULL DEFAULT 5,
ADD COLUMN     "breaker_failure_rate_pct" INTEGER NOT NULL DEFAULT 50,
ADD COLUMN     "breaker_half_open_calls" INTEGER NOT NULL DEFAULT 3,
ADD COLUMN     "breaker_min_calls" INTEGER NOT NULL DEFAULT 10,
ADD COLUMN     "breaker_open_seconds" INTEGER NOT NULL DEFAULT 30,
ADD COLUMN     "breaker_window_seconds" INTEGER NOT NULL DEFAULT 10,
ADD COLUMN     "forward_identity" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "gateway_timeout_ms" INTEGER NOT NULL DEFAULT 10000;

-- CreateTable
CREATE TABLE "circuits" (
    "instance_id" UUID NOT NULL,
    "service_id" UUID NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "state" "CircuitState" NOT NULL DEFAULT 'closed',
    "forced" TEXT,
    "forced_by" TEXT,
    "forced_at" TIMESTAMPTZ(3),
    "reason" TEXT,
    "since" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "open_until" TIMESTAMPTZ(3),
    "trip_streak" INTEGER NOT NULL DEFAULT 0,
    "last_trip_at" TIMESTAMPTZ(3),
    "failure_rate_pct" INTEGER,
    "window_calls" INTEGER,
    "changed_by" TEXT NOT NULL DEFAULT '',
    "version" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "circuits_pkey" PRIMARY KEY ("instance_id")
);

-- CreateTable
CREATE TABLE "circuit_events" (
    "id" BIGSERIAL NOT NULL,
    "instance_id" UUID NOT NULL,
    "service_id" UUID NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "from_state" TEXT NOT NULL,
    "to_state" TEXT NOT NULL,
    "reason" TEXT,
    "actor" TEXT NOT NULL,

    CONSTRAINT "circuit_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "gateway_replicas" (
    "replica_id" TEXT NOT NULL,
    "hostname" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "circuits" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "gateway_replicas_pkey" PRIMARY KEY ("replica_id")
);

-- CreateTable
CREATE TABLE "rate_limits" (
    "tenant_id" TEXT NOT NULL,
    "scope" TEXT NOT NULL DEFAULT '*',
    "rps" DOUBLE PRECISION NOT NULL,
    "burst" INTEGER NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_by" TEXT NOT NULL,

    CONSTRAINT "rate_limits_pkey" PRIMARY KEY ("tenant_id","scope")
);

-- CreateTable
CREATE TABLE "rate_buckets" (
    "tenant_id" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "tokens" DOUBLE PRECISION NOT NULL,
    "refilled_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "rate_buckets_pkey" PRIMARY KEY ("tenant_id","scope")
);

-- CreateTable
CREATE TABLE "traffic_minutes" (
    "tenant_id" TEXT NOT NULL,
    "service" TEXT NOT NULL,
    "minute" TIMESTAMPTZ(0) NOT NULL,
    "c2xx" INTEGER NOT NULL DEFAULT 0,
    "c3xx" INTEGER NOT NULL DEFAULT 0,
    "c4xx" INTEGER NOT NULL DEFAULT 0,
    "c5xx" INTEGER NOT NULL DEFAULT 0,
    "rate_limited" INTEGER NOT NULL DEFAULT 0,
    "latency_sum_ms" BIGINT NOT NULL DEFAULT 0,
    "latency_buckets" INTEGER[],

    CONSTRAINT "traffic_minutes_pkey" PRIMARY KEY ("tenant_id","service","minute")
);

-- CreateIndex
CREATE INDEX "circuits_tenant_id_idx" ON "circuits"("tenant_id");

-- CreateIndex
CREATE INDEX "circuit_events_instance_id_at_idx" ON "circuit_events"("instance_id", "at" DESC);

-- CreateIndex
CREATE INDEX "circuit_events_tenant_id_at_idx" ON "circuit_events"("tenant_id", "at");

-- CreateIndex
CREATE INDEX "traffic_minutes_minute_idx" ON "traffic_minutes"("minute");

-- AddForeignKey
ALTER TABLE "circuits" ADD CONSTRAINT "circuits_instance_id_fkey" FOREIGN KEY ("instance_id") REFERENCES "instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rate_limits" ADD CONSTRAINT "rate_limits_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

