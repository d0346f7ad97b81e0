import type { z } from "zod";
import type { Caller, Principal, Role } from "../auth/principal";
import { AppError } from "./app-error";
import { authenticateCaller, authenticateRequest } from "./authenticate";
import { problemResponse } from "./problem";
import { requestMeta, type RequestMeta } from "./request-context";

/**
 * The one wrapper every route handler goes through: request id and trace, authentication and
 * role check, and the mapping of any thrown error to problem+json. Handlers stay a few lines.
 */
type Params = Record<string, string | string[] | undefined>;
interface NextRouteContext {
  params: Promise<Params>;
}

export interface PublicContext {
  req: Request;
  meta: RequestMeta;
  params: Params;
}
export interface AuthedContext extends PublicContext {
  principal: Principal;
}

export function publicRoute(handler: (ctx: PublicContext) => Promise<Response>) {
  return async (req: Request, rc?: NextRouteContext): Promise<Response> => {
    const meta = requestMeta(req);
    try {
      const res = await handler({ req, meta, params: (await rc?.params) ?? {} });
      res.headers.set("x-request-id", meta.requestId);
      return res;
    } catch (err) {
      return problemResponse(err, meta.requestId);
    }
  };
}

export function authedRoute(opts: { roles?: readonly Role[] }, handler: (ctx: AuthedContext) => Promise<Response>) {
  return publicRoute(async (ctx) => {
    const principal = await authenticateRequest(ctx.req);
    if (opts.roles && !opts.roles.includes(principal.role)) {
      throw new AppError("role_forbidden", `This action needs the ${opts.roles.join(" or ")} role.`);
    }
    return handler({ ...ctx, principal });
  });
}

export interface CallerContext extends PublicContext {
  caller: Caller;
}

/**
 * For routes that registered services call with a service token as well as users: `roles` limits
 * the users; `services: true` lets service tokens in (their tenant and queue scope is checked by
 * the handler's lib function).
 */
export function callerRoute(
  opts: { roles?: readonly Role[]; services: boolean },
  handler: (ctx: CallerContext) => Promise<Response>,
) {
  return publicRoute(async (ctx) => {
    const caller = await authenticateCaller(ctx.req);
    if (caller.kind === "service" && !opts.services) {
      throw new AppError("role_forbidden", "Service tokens are not accepted here.");
    }
    if (caller.kind === "user" && opts.roles && !opts.roles.includes(caller.role)) {
      throw new AppError("role_forbidden", `This action needs the ${opts.roles.join(" or ")} role.`);
    }
    return handler({ ...ctx, caller });
  });
}

export function json(body: unknown, init: { status?: number; headers?: Record<string, string> } = {}): Response {
  return new Response(JSON.stringify(body), {
    status: init.status ?? 200,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...init.headers },
  });
}

/** Parses a JSON body with a zod schema: 400 for broken JSON, 422 with field errors otherwise. */
export async function parseJsonBody<S extends z.ZodType>(req: Request, schema: S): Promise<z.infer<S>> {
  let raw: unknown;
  try {
    raw = await req.json();
  } catch {
    throw new AppError("invalid_json", "The request body must be valid JSON.");
  }
  return schema.parse(raw);
}

/** Parses the query string with a zod schema (422 with field errors). */
export function parseQuery<S extends z.ZodType>(req: Request, schema: S): z.infer<S> {
  return schema.parse(Object.fromEntries(new URL(req.url).searchParams.entries()));
}

export function param(ctx: PublicContext, name: string): string {
  const v = ctx.params[name];
  if (typeof v !== "string") throw new AppError("not_found", "Not found.");
  return v;
}
