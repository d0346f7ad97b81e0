import { ZodError } from "zod";
import { AppError, isAppError } from "./app-error";
import { isDatabaseUnavailable } from "../db/unavailable";
import { logger } from "../telemetry/logger";

const titles: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  504: "Gateway Timeout",
  503: "Service Unavailable",
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [k: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export function problemBody(
  status: number,
  code: string,
  detail: string,
  extra: Record<string, unknown> = {},
): Problem {
  return {
    type: `https://hms-sys.local/problems/${code.replace(/_/g, "-")}`,
    title: titles[status] ?? "Error",
    status,
    detail,
    code,
    ...extra,
  };
}

/** Converts a zod failure into the field-level list clients show next to inputs. */
export function zodIssues(err: ZodError): { path: string; message: string }[] {
  return err.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
}

/**
 * The one place any thrown value becomes an HTTP answer. Known errors keep their code; a database
 * outage is a 503 with Retry-After; everything else is a generic 500 with a correlation id (the
 * stack goes to the log, never to the client).
 */
export function toProblem(err: unknown, requestId: string): { body: Problem; headers: Record<string, string> } {
  if (isAppError(err)) {
    return { body: problemBody(err.status, err.code, err.detail, err.extra), headers: err.headers };
  }
  if (err instanceof ZodError) {
    return {
      body: problemBody(422, "validation_failed", "The request is not valid.", { errors: zodIssues(err) }),
      headers: {},
    };
  }
  if (isDatabaseUnavailable(err)) {
    logger.warn({ err, requestId }, "database unavailable");
    return {
      body: problemBody(503, "dependency_unavailable", "The database is unavailable; retry shortly."),
      headers: { "Retry-After": "5" },
    };
  }
  logger.error({ err, requestId }, "unhandled error");
  return {
    body: problemBody(500, "internal_error", `An unexpected error occurred. Reference: ${requestId}.`, {
      requestId,
    }),
    headers: {},
  };
}

export function problemResponse(err: unknown, requestId: string): Response {
  const { body, headers } = toProblem(err, requestId);
  return new Response(JSON.stringify(body), {
    status: body.status,
    headers: { "content-type": PROBLEM_CONTENT_TYPE, "x-request-id": requestId, ...headers },
  });
}

export { AppError };
