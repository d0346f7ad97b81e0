import { z } from "zod";

/** The RFC 9457 problem body every HMS-SYS API error carries (see lib/http/problem.ts). */
const problemSchema = z.object({
  status: z.number().int().optional(),
  code: z.string().optional(),
  title: z.string().optional(),
  detail: z.string().optional(),
});

/** A failed API call: the HTTP status, the stable machine code and the user-safe detail. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;

  constructor(status: number, code: string, detail: string) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

/** Builds an ApiError from a response body that may or may not be problem+json. */
export function apiErrorFrom(status: number, bodyText: string): ApiError {
  let parsed: z.infer<typeof problemSchema> | undefined;
  try {
    const r = problemSchema.safeParse(JSON.parse(bodyText));
    if (r.success) parsed = r.data;
  } catch {
    // not JSON (a proxy's HTML page, an empty body): fall through to the generic wording
  }
  const code = parsed?.code ?? (status === 0 ? "network_error" : `http_${status}`);
  const detail = parsed?.detail?.trim() || genericDetail(status);
  return new ApiError(status, code, detail);
}

function genericDetail(status: number): string {
  if (status === 0) return "We couldn't reach the server. Check your internet connection and try again.";
  if (status === 401) return "Your session has ended. Please sign in again.";
  if (status === 404) return "We couldn't find that.";
  if (status >= 500) return `Something went wrong on our side (error ${status}). Please try again in a moment.`;
  return `The request could not be completed (error ${status}).`;
}

/** A response's JSON body, validated against `schema`; a failed response becomes an ApiError. */
async function answerOf<T>(res: Response, schema: z.ZodType<T>): Promise<T> {
  const text = await res.text();
  if (!res.ok) throw apiErrorFrom(res.status, text);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError(res.status, "invalid_response", "The server sent an answer we couldn't read. Please try again.");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new ApiError(res.status, "invalid_response", "The server sent an answer we couldn't read. Please try again.");
  }
  return parsed.data;
}

/** GET a same-origin JSON API (the browser's session cookie authenticates it) and validate the shape. */
export async function getJson<T>(url: string, schema: z.ZodType<T>, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin", signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw apiErrorFrom(0, "");
  }
  return answerOf(res, schema);
}

/** POST a JSON body to a same-origin API and validate the answer's shape (problem+json → ApiError). */
export async function postJson<T>(url: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw apiErrorFrom(0, "");
  }
  return answerOf(res, schema);
}

/** React Query retry policy: retry network and 5xx failures a couple of times, never 4xx. */
export function retryUnlessClientError(failureCount: number, error: unknown): boolean {
  if (isApiError(error) && error.status >= 400 && error.status < 500) return false;
  return failureCount < 2;
}
