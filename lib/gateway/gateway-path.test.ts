import { describe, expect, it } from "vitest";
import { checkGatewayPath } from "./gateway-path";

const ok = (raw: string) => {
  const r = checkGatewayPath(raw);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(raw)} to pass, got: ${r.reason}`);
  return r.path;
};
const reason = (raw: string) => {
  const r = checkGatewayPath(raw);
  if (r.ok) throw new Error(`expected ${JSON.stringify(raw)} to be refused, got ${r.path}`);
  return r.reason;
};

describe("checkGatewayPath", () => {
  it("turns an empty path into / and keeps / as it is", () => {
    expect(ok("")).toBe("/");
    expect(ok("/")).toBe("/");
  });

  it("forwards ordinary paths exactly as the client encoded them, trailing slash included", () => {
    expect(ok("/claims/7")).toBe("/claims/7");
    expect(ok("/claims/7/")).toBe("/claims/7/");
    expect(ok("/a%20b/c+d/~x/@y:z")).toBe("/a%20b/c+d/~x/@y:z");
  });

  it("lets dots inside names through: only a whole . or .. segment is a dot segment", () => {
    expect(ok("/a/.../b..c/.d/e.")).toBe("/a/.../b..c/.d/e.");
    expect(ok("/.well-known/x")).toBe("/.well-known/x");
    expect(ok("/%2e%2e%2e")).toBe("/%2e%2e%2e");
  });

  it.each(["/..", "/.", "/a/..", "/a/../b", "/./a", "/a/./b", "/a/../../../etc/passwd"])(
    "refuses the dot segment in %s",
    (raw) => expect(reason(raw)).toBe("a . or .. segment in the path"),
  );

  it.each(["/%2e", "/%2E", "/%2e%2e", "/%2E%2e", "/%2e%2E/x", "/a/.%2e/b", "/a/%2e./b", "/a/.%2E"])(
    "refuses the percent-encoded dot segment in %s (any case, mixed with literal dots)",
    (raw) => expect(reason(raw)).toBe("a . or .. segment in the path"),
  );

  it("decodes once only: %252e is the text %2e, not a dot, and is forwarded as sent", () => {
    expect(ok("/%252e%252e/x")).toBe("/%252e%252e/x");
    expect(ok("/a/%252f")).toBe("/a/%252f");
    expect(ok("/%25")).toBe("/%25");
  });

  it.each(["/a%2fb", "/a%2Fb", "/%2f", "/a%2F..%2Fb", "/a%5cb", "/a%5Cb", "/%5C..%5C"])(
    "refuses the encoded slash or backslash in %s",
    (raw) => expect(reason(raw)).toBe("an encoded / or \\ in the path"),
  );

  it.each(["/a\\b", "/a\\..\\b", "/\\", "/\\evil.example"])("refuses the literal backslash in %s", (raw) =>
    expect(reason(raw)).toBe("a backslash in the path"),
  );

  it.each(["/a%00b", "/a%0a", "/a%0A", "/a%0d%0aX-Injected:%201", "/a%09", "/%1f", "/a%7f", "/a%7F", "/%C2%85"])(
    "refuses the encoded control character in %s",
    (raw) => expect(reason(raw)).toBe("a control character in the path"),
  );

  it.each(["/a\tb", "/a\nb", "/a\u0000", "/a\rb", "/a b", "/a\u007f", "/caf\u00c3\u00a9", "/\u2603"])(
    "refuses the raw control, space or non-ASCII character in %j",
    (raw) => expect(reason(raw)).toBe("a control, space or non-ASCII character in the path"),
  );

  it("forwards percent-encoded Unicode unchanged (only C1 controls are refused)", () => {
    expect(ok("/caf%C3%A9")).toBe("/caf%C3%A9");
    expect(ok("/%F0%9F%9A%80/%e2%98%83")).toBe("/%F0%9F%9A%80/%e2%98%83");
    expect(ok("/%C2%A0")).toBe("/%C2%A0"); // no-break space: not a control
    expect(ok("/%ff")).toBe("/%ff"); // bytes that are not UTF-8 are the upstream's business
  });

  it("refuses // at the start (a scheme-relative //host), keeps empty segments further in", () => {
    expect(reason("//evil.example/x")).toBe("the path starts with //");
    expect(reason("//")).toBe("the path starts with //");
    expect(ok("/a//b")).toBe("/a//b");
    expect(ok("/a//")).toBe("/a//");
  });

  it.each(["/%", "/%4", "/%zz", "/a%g0", "/%%32%65"])("refuses the malformed escape in %s", (raw) =>
    expect(reason(raw)).toBe("malformed percent-encoding in the path"),
  );

  it("refuses a path that does not start with a slash", () => {
    expect(reason("x")).toBe("the path must start with /");
  });
});
