import { describe, expect, it } from "vitest";
import { formatAge, parseQueueList } from "./queue-queries";

describe("parseQueueList", () => {
  it("splits on commas and spaces, sorts, drops duplicates and reports bad names", () => {
    expect(parseQueueList(" claim-review, audit.export claim-review ,")).toEqual({
      queues: ["audit.export", "claim-review"],
      invalid: [],
    });
    expect(parseQueueList("Bad, ok_1, -x")).toEqual({ queues: ["ok_1"], invalid: ["Bad", "-x"] });
    expect(parseQueueList("   ")).toEqual({ queues: [], invalid: [] });
  });
});

describe("formatAge", () => {
  it("says seconds, minutes, hours or days", () => {
    expect(formatAge(null)).toBe("—");
    expect(formatAge(12.4)).toBe("12 s");
    expect(formatAge(240)).toBe("4 min");
    expect(formatAge(7_200)).toBe("2 h");
    expect(formatAge(3 * 86_400)).toBe("3 d");
  });
});
