import { describe, expect, it } from "vitest";
import { formatCountdown } from "./relative-time";

describe("formatCountdown", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  const at = (s: number) => new Date(now + s * 1000).toISOString();

  it("counts down in seconds, then minutes and seconds, then hours and minutes", () => {
    expect(formatCountdown(at(12.2), now)).toBe("13 s");
    expect(formatCountdown(at(90), now)).toBe("1 min 30 s");
    expect(formatCountdown(at(2 * 3600 + 5 * 60), now)).toBe("2 h 5 min");
  });

  it("is null once the moment has passed, and without a moment", () => {
    expect(formatCountdown(at(0), now)).toBeNull();
    expect(formatCountdown(at(-5), now)).toBeNull();
    expect(formatCountdown(null, now)).toBeNull();
    expect(formatCountdown("not a date", now)).toBeNull();
  });
});
