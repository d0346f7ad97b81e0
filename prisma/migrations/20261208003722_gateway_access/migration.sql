-- Who may call a service through the gateway (ARCHITECTURE.md §7 "Gateway"):
-- {"roles": [...], "services": [...]} in canonical form (lib/registry/service-schema.ts).
-- NULL = the default policy: operators, admins and every service token of the tenant; no veterans.
-- AlterTable
ALTER TABLE "services" ADD COLUMN     "access" JSONB;
