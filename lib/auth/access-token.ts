import { errors, jwtVerify, SignJWT, type JWTHeaderParameters } from "jose";
import { randomUUID } from "node:crypto";
import { setting } from "../config/env";
import { AppError } from "../http/app-error";
import { roleSchema, type Principal } from "./principal";
import { currentSigner, SIGNING_ALG, verificationKey } from "./signing-keys";

export interface TokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export function tokenSettings(): TokenSettings {
  return {
    issuer: setting("HMS_JWT_ISSUER"),
    audience: setting("HMS_JWT_AUDIENCE"),
    ttlSeconds: setting("HMS_TOKEN_TTL_SECONDS"),
  };
}

export const CLOCK_SKEW_SECONDS = 60;

/** Issues an ES256 access token for a principal (claims: iss, aud, sub, tenant, role, exp, iat, jti). */
export async function issueAccessToken(p: Principal, s: TokenSettings = tokenSettings()): Promise<string> {
  const { kid, privateKey } = await currentSigner();
  return new SignJWT({ tenant: p.tenantId, role: p.role, username: p.username })
    .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: "JWT" })
    .setIssuer(s.issuer)
    .setAudience(s.audience)
    .setSubject(p.userId)
    .setIssuedAt()
    .setExpirationTime(`${s.ttlSeconds}s`)
    .setJti(randomUUID())
    .sign(privateKey);
}

/**
 * Validates a bearer token: algorithm list pinned to ES256 (so `alg: none` and HS256 forged with
 * the public key fail), key chosen only by `kid` from our own key set (`jku`, `x5u` and embedded
 * `jwk` headers are never consulted), `iss`/`aud`/`exp` required, at most 60 s clock skew.
 * Every failure is an AppError with a 401 code.
 */
export async function verifyAccessToken(token: string, s: TokenSettings = tokenSettings()): Promise<Principal> {
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token)) {
    throw new AppError("token_malformed", "The bearer token is not a well-formed JWT.");
  }
  try {
    const { payload } = await jwtVerify(
      token,
      async (header: JWTHeaderParameters) => {
        if (header.alg !== SIGNING_ALG)
          throw new errors.JOSEAlgNotAllowed(`"alg" (Algorithm) Header Parameter value not allowed`);
        if (typeof header.kid !== "string") throw new errors.JWKSNoMatchingKey();
        const key = await verificationKey(header.kid);
        if (!key) throw new errors.JWKSNoMatchingKey();
        return key;
      },
      {
        algorithms: [SIGNING_ALG],
        issuer: s.issuer,
        audience: s.audience,
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ["iss", "aud", "exp", "sub"],
      },
    );
    const role = roleSchema.safeParse(payload.role);
    if (!role.success || typeof payload.sub !== "string") {
      throw new AppError("token_claim_invalid", "The token does not carry a valid subject and role.");
    }
    return {
      userId: payload.sub,
      username: typeof payload.username === "string" ? payload.username : payload.sub,
      role: role.data,
      tenantId: typeof payload.tenant === "string" ? payload.tenant : null,
    };
  } catch (err) {
    throw mapJoseError(err);
  }
}

function mapJoseError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (err instanceof errors.JWTExpired) return new AppError("token_expired", "The token has expired.");
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return new AppError("token_algorithm_not_allowed", "The token's signing algorithm is not accepted.");
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
    return new AppError("token_invalid_signature", "The token's signature is not valid for any of our keys.");
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return new AppError("token_claim_invalid", `The token's "${err.claim}" claim is not acceptable.`);
  }
  if (err instanceof errors.JOSEError) return new AppError("token_malformed", "The bearer token is malformed.");
  return err; // e.g. database unavailable while loading keys → 503
}
