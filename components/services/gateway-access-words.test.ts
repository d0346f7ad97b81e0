import { describe, expect, it } from "vitest";
import { describeGatewayAccess } from "./gateway-access-words";

describe("describeGatewayAccess", () => {
  it("says the default policy in plain words", () => {
    expect(describeGatewayAccess({ roles: ["operator", "admin"], services: ["*"] })).toBe(
      "Operators, admins and every service token of the agency may call it through the gateway.",
    );
  });

  it("names listed services, a single caller, and nobody", () => {
    expect(describeGatewayAccess({ roles: ["veteran"], services: ["billing", "notify"] })).toBe(
      "Veterans and the service tokens of billing, notify may call it through the gateway.",
    );
    expect(describeGatewayAccess({ roles: [], services: ["billing"] })).toBe(
      "The service tokens of billing may call it through the gateway.",
    );
    expect(describeGatewayAccess({ roles: [], services: [] })).toBe("Nobody may call it through the gateway.");
  });
});
