-- perCaller (ARCHITECTURE.md §7 "Gateway"): each user or service token of a tenant limited inside
-- the tenant-wide limit. Only on the tenant-wide row (scope '*'); both set or both NULL (= none).
-- Each caller's shared bucket is a rate_buckets row with scope 'caller:<id>'.
-- AlterTable
ALTER TABLE "rate_limits" ADD COLUMN     "per_caller_burst" INTEGER,
ADD COLUMN     "per_caller_rps" DOUBLE PRECISION;


ALTER TABLE "rate_limits" ADD CONSTRAINT "rate_limits_per_caller_check"
  CHECK ((per_caller_rps IS NULL) = (per_caller_burst IS NULL) AND (per_caller_rps IS NULL OR scope = '*'));
