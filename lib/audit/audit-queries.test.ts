import { describe, expect, it } from "vitest";
import { auditFilterQuery, auditListQuery, csvCell, csvLine } from "./audit-queries";

describe("CSV cells", () => {
  it("quotes a cell holding a comma, quote, CR or LF and doubles its quotes (RFC 4180)", () => {
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell("a,b")).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell("two\nlines")).toBe('"two\nlines"');
    expect(csvCell(null)).toBe("");
    expect(csvLine(["a", null, "b,c"])).toBe('a,,"b,c"\r\n');
  });

  it("defuses cells a spreadsheet would run as a formula with a leading quote", () => {
    for (const v of ['=HYPERLINK("x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]) {
      expect(csvCell(v).replace(/^"/, "").startsWith("'"), v).toBe(true);
    }
    expect(csvCell("=1,2")).toBe(`"'=1,2"`);
    expect(csvCell("a=b")).toBe("a=b");
  });
});

describe("audit filters", () => {
  it("accepts ISO times and dates, trims text and drops empty values", () => {
    const q = auditFilterQuery.parse({
      actor: "  alice ",
      action: "",
      from: "2026-11-01",
      to: "2026-11-02T10:00:00+01:00",
    });
    expect(q).toMatchObject({ actor: "alice", action: undefined });
    expect(q.from?.toISOString()).toBe("2026-11-01T00:00:00.000Z");
    expect(q.to?.toISOString()).toBe("2026-11-02T09:00:00.000Z");
  });

  it("refuses times that are not ISO 8601, event ids that are not numbers and limits over 500", () => {
    expect(auditFilterQuery.safeParse({ from: "yesterday" }).success).toBe(false);
    expect(auditFilterQuery.safeParse({ event: "12; drop" }).success).toBe(false);
    expect(auditListQuery.safeParse({ limit: "501" }).success).toBe(false);
    expect(auditListQuery.parse({}).limit).toBe(50);
  });
});
