import { inject } from "vitest";

// Runs in every integration test worker before the test file is imported.
process.env.DATABASE_URL = inject("databaseUrl");
process.env.DATABASE_OWNER_URL = inject("ownerDatabaseUrl");
process.env.NEXTAUTH_SECRET = inject("nextauthSecret");
process.env.HMS_DB_POOL_SIZE = "5";
process.env.HMS_AUDIT_KEY ??= "integration-tests-audit-key-0123456789abcdef";
