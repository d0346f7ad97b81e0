-- CreateEnum
CREATE TYPE "HealthStatus" AS ENUM ('green', 'yellow', 'red', 'unknown');

-- CreateTable
CREATE TABLE "services" (
    "id" UUID NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "health_path" TEXT NOT NULL DEFAULT '/health',
    "check_interval_seconds" INTEGER NOT NULL DEFAULT 10,
    "timeout_ms" INTEGER NOT NULL DEFAULT 2000,
    "failure_threshold" INTEGER NOT NULL DEFAULT 3,
    "success_threshold" INTEGER NOT NULL DEFAULT 2,
    "latency_budget_ms" INTEGER NOT NULL DEFAULT 1000,
    "maintenance" BOOLEAN NOT NULL DEFAULT false,
    "status" "HealthStatus" NOT NULL DEFAULT 'unknown',
    "status_reason" TEXT,
    "status_changed_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "services_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "instances" (
    "id" UUID NOT NULL,
    "service_id" UUID NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "region" TEXT NOT NULL DEFAULT 'primary',
    "weight" INTEGER NOT NULL DEFAULT 1,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "status" "HealthStatus" NOT NULL DEFAULT 'unknown',
    "status_reason" TEXT,
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,
    "consecutive_successes" INTEGER NOT NULL DEFAULT 0,
    "last_checked_at" TIMESTAMPTZ(3),
    "last_latency_ms" INTEGER,
    "last_error" TEXT,
    "next_check_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "leased_until" TIMESTAMPTZ(3),
    "leased_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "instances_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "health_checks" (
    "id" BIGSERIAL NOT NULL,
    "instance_id" UUID NOT NULL,
    "service_id" UUID NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "outcome" TEXT NOT NULL,
    "http_status" INTEGER,
    "latency_ms" INTEGER,
    "error" TEXT,
    "worker_id" TEXT NOT NULL,

    CONSTRAINT "health_checks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "health_rollups" (
    "instance_id" UUID NOT NULL,
    "minute" TIMESTAMPTZ(0) NOT NULL,
    "service_id" UUID NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "passes" INTEGER NOT NULL DEFAULT 0,
    "warns" INTEGER NOT NULL DEFAULT 0,
    "fails" INTEGER NOT NULL DEFAULT 0,
    "latency_sum_ms" BIGINT NOT NULL DEFAULT 0,
    "latency_max_ms" INTEGER NOT NULL DEFAULT 0,
    "latency_buckets" INTEGER[],

    CONSTRAINT "health_rollups_pkey" PRIMARY KEY ("instance_id","minute")
);

-- CreateTable
CREATE TABLE "service_status_events" (
    "id" BIGSERIAL NOT NULL,
    "service_id" UUID NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "status" "HealthStatus" NOT NULL,
    "reason" TEXT,

    CONSTRAINT "service_status_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "services_status_idx" ON "services"("status");

-- CreateIndex
CREATE UNIQUE INDEX "services_tenant_id_name_key" ON "services"("tenant_id", "name");

-- CreateIndex
CREATE INDEX "instances_next_check_at_idx" ON "instances"("next_check_at");

-- CreateIndex
CREATE UNIQUE INDEX "instances_service_id_url_key" ON "instances"("service_id", "url");

-- CreateIndex
CREATE INDEX "health_checks_instance_id_at_idx" ON "health_checks"("instance_id", "at" DESC);

-- CreateIndex
CREATE INDEX "health_checks_at_idx" ON "health_checks"("at");

-- CreateIndex
CREATE INDEX "health_rollups_service_id_minute_idx" ON "health_rollups"("service_id", "minute");

-- CreateIndex
CREATE INDEX "service_status_events_service_id_at_idx" ON "service_status_events"("service_id", "at" DESC);

-- AddForeignKey
ALTER TABLE "services" ADD CONSTRAINT "services_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "instances" ADD CONSTRAINT "instances_service_id_fkey" FOREIGN KEY ("service_id") REFERENCES "services"("id") ON DELETE CASCADE ON UPDATE CASCADE;

