import nextVitals from "eslint-config-next/core-web-vitals";
import nextTs from "eslint-config-next/typescript";
import importPlugin from "eslint-plugin-import";

/**
 * One-way imports (CONVENTIONS.md): lib/ is the framework-free system and never imports app/ or
 * components/; components/ never import server-only code (lib/db and friends).
 */
const config = [
  {
    ignores: [
      ".next/**",
      ".next-*/**",
      "lib/generated/**",
      "node_modules/**",
      ".data/**",
      "test-results/**",
      "playwright-report/**",
      "next-env.d.ts",
    ],
  },
  ...nextVitals,
  ...nextTs,
  {
    plugins: { import: importPlugin },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "import/no-restricted-paths": [
        "error",
        {
          zones: [
            { target: "./lib", from: "./app", message: "lib/ must not import from app/." },
            { target: "./lib", from: "./components", message: "lib/ must not import from components/." },
            { target: "./components", from: "./lib/db", message: "components/ must not import the database." },
            { target: "./components", from: "./app", message: "components/ must not import from app/." },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.cjs"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    files: ["components/**/*.{ts,tsx}"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["pg", "@prisma/*", "**/lib/db/**", "**/lib/generated/**"], message: "Server-only code." },
          ],
        },
      ],
    },
  },
];

export default config;
