import { describe, expect, it } from "vitest";
import { AppError } from "../http/app-error";
import { normaliseServiceName, parseRegistryYaml, type RegistryError } from "./registry-yaml";
import { normaliseInstanceUrl, serviceInput } from "./service-schema";

function errorsOf(text: string): RegistryError[] {
  try {
    parseRegistryYaml(text);
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    const err = e as AppError;
    expect(err.code).toBe("registry_yaml_invalid");
    expect(err.status).toBe(422);
    return err.extra.errors as RegistryError[];
  }
  throw new Error("expected registry_yaml_invalid");
}

const defaults = {
  healthPath: "/health",
  checkIntervalSeconds: 10,
  timeoutMs: 2000,
  failureThreshold: 3,
  successThreshold: 2,
  latencyBudgetMs: 1000,
  gatewayTimeoutMs: 10000,
  forwardIdentity: false,
  breakerFailureRatePct: 50,
  breakerMinCalls: 10,
  breakerConsecutiveFailures: 5,
  breakerWindowSeconds: 10,
  breakerOpenSeconds: 30,
  breakerHalfOpenCalls: 3,
};

describe("parseRegistryYaml: compact form", () => {
  it("imports the seed's `doc_review: http://doc_review_svc:7100` as service doc-review, keeping the key as description", () => {
    const r = parseRegistryYaml("doc_review: http://doc_review_svc:7100\n");
    expect(r.form).toBe("compact");
    expect(r.services).toEqual([
      {
        name: "doc-review",
        description: "doc_review",
        ...defaults,
        instances: [{ url: "http://doc_review_svc:7100", region: "primary", weight: 1 }],
      },
    ]);
  });

  it("keeps no description when the key already is a DNS label, and accepts a list of URLs", () => {
    const r = parseRegistryYaml("intake:\n  - http://a.example:80/\n  - http://b.example:8080/base/\n");
    expect(r.services[0]).toMatchObject({
      name: "intake",
      instances: [
        { url: "http://a.example", region: "primary" },
        { url: "http://b.example:8080/base", region: "primary" },
      ],
    });
    expect(r.services[0]).not.toHaveProperty("description");
  });

  it("reports two keys that normalise to the same name at the second key's line", () => {
    const errors = errorsOf("doc_review: http://a.example\nother: http://b.example\ndoc-review: http://c.example\n");
    expect(errors).toEqual([
      expect.objectContaining({ line: 3, column: 1, message: expect.stringContaining('"doc-review"') }),
    ]);
  });

  it("reports a value that is not a URL at the value's line and column", () => {
    const errors = errorsOf("ok: http://a.example\nbroken: not a url\nnested:\n  x: 1\n");
    expect(errors).toEqual([
      expect.objectContaining({ line: 2, column: 9, path: "services.1.instances.0.url" }),
      expect.objectContaining({ line: 4, column: 3, path: "services.2.instances" }),
    ]);
  });
});

describe("parseRegistryYaml: rich form", () => {
  it("applies the defaults and keeps regions, weights and per-service tenants", () => {
    const r = parseRegistryYaml(`services:
  - name: payments
    tenant: agency-a
    healthPath: /healthz
    instances:
      - url: https://pay-1.example
        region: primary
        weight: 3
      - url: https://pay-2.example
        region: secondary
`);
    expect(r.form).toBe("rich");
    expect(r.services).toEqual([
      {
        name: "payments",
        tenant: "agency-a",
        ...defaults,
        healthPath: "/healthz",
        instances: [
          { url: "https://pay-1.example", region: "primary", weight: 3 },
          { url: "https://pay-2.example", region: "secondary", weight: 1 },
        ],
      },
    ]);
  });

  it("reports schema errors with the line and column of the offending value", () => {
    const text = `services:
  - name: Bad_Name
    checkIntervalSeconds: 99999
    instances:
      - url: http://ok.example
  - name: good
    instances: []
`;
    const errors = errorsOf(text);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ line: 2, column: 11, path: "services.0.name" }),
        expect.objectContaining({
          line: 3,
          column: 27,
          path: "services.0.checkIntervalSeconds",
          message: "must be at most 3600 seconds",
        }),
        expect.objectContaining({ line: 7, column: 16, path: "services.1.instances" }),
      ]),
    );
    expect(errors).toHaveLength(3);
  });

  it("points an unknown key (a typo) at the key itself, and a missing field at its parent", () => {
    const errors = errorsOf(`services:
  - name: a
    healthpath: /hz
    instances:
      - region: primary
`);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ line: 3, column: 5, path: "services.0.healthpath" }),
        expect.objectContaining({ line: 5, column: 9, path: "services.0.instances.0.url", message: "is required" }),
      ]),
    );
  });

  it("refuses duplicate instance URLs (after normalising) in one service", () => {
    const errors = errorsOf(`services:
  - name: a
    instances:
      - url: http://x.example/
      - url: http://X.example:80
`);
    expect(errors).toEqual([expect.objectContaining({ line: 5, column: 14, path: "services.0.instances.1.url" })]);
  });

  it("locates normalised paths back in the source (for errors found later, e.g. refused URLs)", () => {
    const r = parseRegistryYaml(`services:
  - name: a
    instances:
      - url: http://one.example
      - url: http://two.example
`);
    expect(r.locate(["services", 0, "instances", 1, "url"])).toEqual({ line: 5, column: 14 });
    const c = parseRegistryYaml("a: http://one.example\nb:\n  - http://two.example\n  - http://three.example\n");
    expect(c.locate(["services", 1, "instances", 1, "url"])).toEqual({ line: 4, column: 5 });
    expect(c.locate(["services", 0, "instances", 0, "url"])).toEqual({ line: 1, column: 4 });
  });
});

describe("parseRegistryYaml: broken files", () => {
  it("reports a YAML syntax error with its own line and column", () => {
    const errors = errorsOf("services:\n  - name: a\n    instances: [\n  - name: b\n");
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ path: "" });
    expect(errors[0]!.line).toBeGreaterThanOrEqual(3);
    expect(errors[0]!.column).toBeGreaterThanOrEqual(1);
    expect(errors[0]!.message).not.toMatch(/\n/);
  });

  it("reports duplicate mapping keys", () => {
    const errors = errorsOf("a: http://a.example\na: http://b.example\n");
    expect(errors[0]).toMatchObject({ line: 2, column: 1 });
  });

  it("refuses an empty file rather than treating it as 'no services'", () => {
    expect(errorsOf("")[0]).toMatchObject({ line: 1, column: 1 });
    expect(errorsOf("# only a comment\n")[0]!.message).toMatch(/empty/);
  });

  it("refuses a top-level list and unknown top-level keys in the rich form", () => {
    expect(errorsOf("- a\n- b\n")[0]).toMatchObject({ line: 1, message: "the top level must be a mapping" });
    expect(errorsOf("services: []\nversion: 2\n")[0]).toMatchObject({ line: 2, column: 1, path: "version" });
  });
});

describe("names and URLs", () => {
  it("normalises compact-form keys to DNS labels", () => {
    expect(normaliseServiceName("doc_review")).toBe("doc-review");
    expect(normaliseServiceName("Doc Review.Svc")).toBe("doc-review-svc");
    expect(normaliseServiceName("__x__")).toBe("x");
    expect(normaliseServiceName("a".repeat(70) + "_b")).toBe("a".repeat(63));
    expect(normaliseServiceName("___")).toBe("");
  });

  it("stores instance URLs without a trailing slash or default port", () => {
    expect(normaliseInstanceUrl("http://A.example:80/")).toBe("http://a.example");
    expect(normaliseInstanceUrl("https://a.example:8443/api/")).toBe("https://a.example:8443/api");
    expect(normaliseInstanceUrl("nope")).toBeNull();
  });

  it("refuses health paths that would leave the instance (scheme-relative or backslash)", () => {
    const base = { name: "a", instances: [{ url: "http://a.example" }] };
    for (const healthPath of ["//evil.example/x", "/\\evil.example", "health", "/a b"]) {
      expect(serviceInput.safeParse({ ...base, healthPath }).success).toBe(false);
    }
    expect(serviceInput.safeParse({ ...base, healthPath: "/status?full=1" }).success).toBe(true);
  });
});
