-- AlterTable
ALTER TABLE "queue_messages" ADD COLUMN     "finished_at" TIMESTAMPTZ(3),
ADD COLUMN     "last_error" TEXT,
ADD COLUMN     "leased_by" TEXT;

-- CreateTable
CREATE TABLE "queues" (
    "tenant_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "max_attempts" INTEGER NOT NULL DEFAULT 5,
    "visibility_seconds" INTEGER NOT NULL DEFAULT 30,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "queues_pkey" PRIMARY KEY ("tenant_id","name")
);

-- CreateTable
CREATE TABLE "service_tokens" (
    "id" UUID NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "service_id" UUID NOT NULL,
    "queues" TEXT[],
    "token_hash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "service_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_seals" (
    "chain" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "tenant_id" TEXT,
    "event_id" BIGINT NOT NULL,
    "prev_hash" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "key_id" TEXT NOT NULL,
    "sealed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_seals_pkey" PRIMARY KEY ("chain","seq")
);

-- CreateIndex
CREATE UNIQUE INDEX "service_tokens_token_hash_key" ON "service_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "service_tokens_tenant_id_service_id_idx" ON "service_tokens"("tenant_id", "service_id");

-- CreateIndex
CREATE UNIQUE INDEX "audit_seals_event_id_key" ON "audit_seals"("event_id");

-- CreateIndex
CREATE INDEX "claims_tenant_id_status_updated_at_idx" ON "claims"("tenant_id", "status", "updated_at");

-- CreateIndex
CREATE INDEX "queue_messages_state_finished_at_idx" ON "queue_messages"("state", "finished_at");

-- CreateIndex
CREATE INDEX "audit_events_actor_at_idx" ON "audit_events"("actor", "at");

-- CreateIndex
CREATE INDEX "audit_events_action_at_idx" ON "audit_events"("action", "at");

-- AddForeignKey
ALTER TABLE "service_tokens" ADD CONSTRAINT "service_tokens_service_id_fkey" FOREIGN KEY ("service_id") REFERENCES "services"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- ---------------------------------------------------------------------------------------------
-- Hand-written: tenant isolation by row-level security (issue 5, decision 017).
-- Every table with a tenant_id column gets RLS enabled and FORCED (so the table owner is subject
-- to it too) and one policy: a row is visible and writable only when the transaction's
-- app.tenant_id setting names its tenant, or is '*' (the explicit system / audited-admin scope,
-- see lib/db/tenant-scope.ts). Without the setting a query sees nothing. The catalog test
-- (lib/db/row-level-security.int.test.ts) fails if a table with tenant_id lacks this.
DO $$
DECLARE t text;
BEGIN
  FOR t IN
    SELECT c.relname
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attname = 'tenant_id' AND NOT a.attisdropped
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_setting(''app.tenant_id'', true) OR current_setting(''app.tenant_id'', true) = ''*'') WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true) OR current_setting(''app.tenant_id'', true) = ''*'')',
      t);
  END LOOP;
END $$;

-- Queue lease: ready messages (queued and visible, or leased with an expired lease) by queue.
CREATE INDEX "queue_messages_ready_idx" ON "queue_messages" ("tenant_id", "queue", "visible_at")
  WHERE state IN ('queued', 'leased');
