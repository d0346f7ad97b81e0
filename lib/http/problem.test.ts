import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AppError } from "./app-error";
import { problemResponse } from "./problem";

describe("problemResponse", () => {
  it("maps an AppError to its status and stable code as application/problem+json", async () => {
    const res = problemResponse(new AppError("pdf_encrypted", "Remove the password."), "req-1");
    expect(res.status).toBe(422);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toEqual({
      type: "https://hms-sys.local/problems/pdf-encrypted",
      title: "Unprocessable Content",
      status: 422,
      detail: "Remove the password.",
      code: "pdf_encrypted",
    });
  });

  it("lists zod field errors under 422 validation_failed", async () => {
    const err = z.object({ limit: z.number().max(10) }).safeParse({ limit: 11 }).error!;
    const body = await problemResponse(err, "r").json();
    expect(body.code).toBe("validation_failed");
    expect(body.errors[0].path).toBe("limit");
  });

  it("answers a database outage with 503 and Retry-After", async () => {
    const res = problemResponse(
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
      "r",
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect((await res.json()).code).toBe("dependency_unavailable");
    const shutdown = problemResponse(Object.assign(new Error("terminating"), { code: "57P01" }), "r");
    expect(shutdown.status).toBe(503);
  });

  it("hides unknown errors behind a generic 500 with a correlation id and no stack", async () => {
    const res = problemResponse(new TypeError("secret internals at foo.ts:12"), "corr-9");
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body).toMatchObject({ code: "internal_error", requestId: "corr-9" });
    expect(JSON.stringify(body)).not.toContain("secret internals");
  });
});
