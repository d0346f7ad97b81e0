import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";

// The CLI refuses to run without a URL and would otherwise try to download a native engine.
process.env.DATABASE_URL ??= "postgresql://placeholder@127.0.0.1:5432/placeholder";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  adapter: async () => new PrismaPg({ connectionString: process.env.DATABASE_URL! }),
});
