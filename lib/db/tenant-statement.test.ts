import { describe, expect, it } from "vitest";
import { inlineParams, sqlLiteral } from "./tenant-statement";

describe("inlineParams", () => {
  it("replaces $n with safe literals of each supported type", () => {
    expect(inlineParams("SELECT $1, $2, $3, $4, $5, $10", ["a'b", 42, null, true, ["x", "y'"], 1, 2, 3, 4, -1.5])).toBe(
      "SELECT 'a''b', 42, NULL, TRUE, ARRAY['x', 'y'''], -1.5",
    );
  });

  it("quotes backslashes as an E'' literal, so nothing escapes the string", () => {
    expect(sqlLiteral("a\\'); DROP TABLE x; --")).toBe(" E'a\\\\''); DROP TABLE x; --'");
  });

  it("refuses a missing parameter, a non-finite number and an object", () => {
    expect(() => inlineParams("SELECT $2", [1])).toThrow(/no parameter \$2/);
    expect(() => sqlLiteral(Number.NaN)).toThrow(/finite/);
    expect(() => sqlLiteral({ a: 1 })).toThrow(/unsupported/);
  });
});
