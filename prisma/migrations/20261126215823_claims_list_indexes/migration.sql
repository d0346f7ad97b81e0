-- DropIndex
DROP INDEX "claims_tenant_id_created_at_idx";

-- DropIndex
DROP INDEX "claims_veteran_id_created_at_idx";

-- CreateIndex
CREATE INDEX "claims_tenant_id_number_idx" ON "claims"("tenant_id", "number" DESC);

-- CreateIndex
CREATE INDEX "claims_veteran_id_number_idx" ON "claims"("veteran_id", "number" DESC);

