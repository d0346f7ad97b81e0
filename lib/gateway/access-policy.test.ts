import { describe, expect, it } from "vitest";
import type { Caller, Role } from "../auth/principal";
import { canonicalAccess, gatewayAccess } from "../registry/service-schema";
import { callerKeyOf, mayCallService } from "./access-policy";

const user = (role: Role): Caller => ({ kind: "user", userId: `u-${role}`, username: role, role, tenantId: "t" });
const service = (serviceName: string): Caller => ({
  kind: "service",
  tokenId: "tok",
  tenantId: "t",
  serviceId: "sid",
  serviceName,
  queues: [],
});

describe("mayCallService", () => {
  it("by default lets operators, admins and every service token in, and keeps veterans out", () => {
    const d = canonicalAccess({});
    expect(mayCallService(d, user("veteran"))).toBe(false);
    expect(mayCallService(d, user("operator"))).toBe(true);
    expect(mayCallService(d, user("admin"))).toBe(true);
    expect(mayCallService(d, service("billing"))).toBe(true);
  });

  it("lets only the listed roles in, whatever the services list says", () => {
    const a = canonicalAccess({ roles: ["veteran"] });
    expect(mayCallService(a, user("veteran"))).toBe(true);
    expect(mayCallService(a, user("operator"))).toBe(false);
    expect(mayCallService(a, user("admin"))).toBe(false);
    expect(mayCallService(a, service("billing"))).toBe(true); // services kept their default "*"
  });

  it("lets only the listed services' tokens in", () => {
    const a = canonicalAccess({ services: ["billing"] });
    expect(mayCallService(a, service("billing"))).toBe(true);
    expect(mayCallService(a, service("billing-2"))).toBe(false);
    expect(mayCallService(a, user("operator"))).toBe(true);
  });

  it("lets nobody in with empty lists", () => {
    const a = canonicalAccess({ roles: [], services: [] });
    for (const c of [user("veteran"), user("operator"), user("admin"), service("x")]) {
      expect(mayCallService(a, c)).toBe(false);
    }
  });
});

describe("callerKeyOf", () => {
  it("names users by id and service tokens by their service's name", () => {
    expect(callerKeyOf(user("operator"))).toBe("user:u-operator");
    expect(callerKeyOf(service("billing"))).toBe("service:billing");
  });
});

describe("the access policy's canonical form", () => {
  it('fills in defaults, orders roles, sorts services and keeps "*" alone', () => {
    expect(gatewayAccess.parse({})).toEqual({ roles: ["operator", "admin"], services: ["*"] });
    expect(gatewayAccess.parse({ roles: ["admin", "veteran", "admin"], services: ["b", "a", "b"] })).toEqual({
      roles: ["veteran", "admin"],
      services: ["a", "b"],
    });
    expect(gatewayAccess.parse({ services: ["billing", "*"] }).services).toEqual(["*"]);
  });

  it("refuses an unknown role, a bad service name and unknown keys", () => {
    const bad = gatewayAccess.safeParse({ roles: ["superuser"], services: ["Not A Name"], extra: 1 });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => i.path.join("."));
    expect(paths).toEqual(expect.arrayContaining(["roles.0", "services.0", ""]));
  });
});
