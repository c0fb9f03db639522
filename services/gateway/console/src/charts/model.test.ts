import { describe, expect, it } from "vitest";
import { sessionOf, safeReturn } from "../auth";
import { aligned, buildCharts, type CaseData } from "./model";

const evidence = (rule: string, threshold: number) => ({ rule, threshold, citation: "test", inputs: {} });
const score = (instrument: string, session: number, total: number, normalized: number) => ({
  responseId: `${instrument}-${session}-${total}`,
  instrument,
  sessionNumber: session,
  administeredAt: `2026-01-0${session}T10:00:00Z`,
  total,
  normalized,
  clinicalRange: null,
});
const dyad = (dyadId: string, role: "CLIENT" | "PARENT", timeline: ReturnType<typeof score>[], ruptures: CaseData["dyads"][number]["ruptures"] = []) => ({
  dyadId, therapistId: "th-1", respondentRole: role, respondentId: null, responses: timeline.length, phase: "WORK" as const, ruptures, timeline,
});

// A child case: the child rates the CSRS, a parent the SRS; the child's alliance falls.
const split: CaseData = {
  clinicId: "clinic-north", caseId: "case-0007", phase: "WORK", latestSession: 4,
  episode: { status: "active", ending: null, endedAt: null },
  readiness: { ready: false, reasons: [] },
  outcomes: [], splits: [{ childDyadId: "d-child", parentDyadId: "d-parent", gap: 0.3, active: true, reason: null }],
  dyads: [
    dyad("d-child", "CLIENT", [score("CSRS", 1, 38, 0.95), score("CSRS", 2, 30, 0.75), score("CSRS", 3, 28, 0.7), score("CSRS", 4, 37, 0.92)], [
      { ruptureId: "r1", instrument: "CSRS", openedSession: 2, openedAt: "2026-01-02T10:00:00Z", severity: "MODERATE", target: 38, status: "REPAIRED", resolvedSession: 4, evidence: [evidence("below_cutoff", 36)] },
    ]),
    dyad("d-parent", "PARENT", [score("SRS", 1, 39, 0.975), score("SRS", 2, 39, 0.975), score("SRS", 3, 38, 0.95)]),
  ],
  signals: [
    { signalId: "s1", kind: "SPLIT_DETECTED", severity: "MODERATE", dyadId: "d-child", instrument: "CSRS", sessionNumber: 2, summary: "split", occurredAt: "2026-01-02T10:00:00Z", evidence: [evidence("split_alliance", 0.2)] },
  ],
};

describe("buildCharts", () => {
  it("puts the child's CSRS and the parent's SRS on one chart, with the split band and the rupture", () => {
    const [chart, ...others] = buildCharts(split);
    expect(others).toHaveLength(0);
    expect(chart!.family).toBe("SRS");
    expect(chart!.series.map((s) => s.label)).toEqual(["Client · CSRS", "Parent · SRS"]);
    expect(chart!.cutoff).toBe(36); // from the rule's evidence, not a constant of the console
    // Sessions 2 and 3: the parent rates 0.2 or more above the child; session 4 the child did
    // but the parent did not rate.
    expect(chart!.splits).toEqual([{ from: 2, to: 3 }]);
    expect(chart!.markers).toMatchObject([{ id: "r1", kind: "repaired", session: 2, value: 30 }]);
    expect(aligned(chart!)).toEqual([[1, 2, 3, 4], [38, 30, 28, 37], [39, 39, 38, null]]);
  });

  it("stacks a signal above the rupture opened at the same point, each still its own marker", () => {
    const low = { signalId: "s2", kind: "EARLY_LOW_ALLIANCE" as const, severity: "MODERATE" as const, dyadId: "d-child", instrument: "CSRS", sessionNumber: 2, summary: "low", occurredAt: "2026-01-02T10:00:00Z", evidence: [evidence("below_cutoff", 36)] };
    const critical = { ...low, signalId: "s3", kind: "CRITICAL_ITEM" as const, sessionNumber: 3 };
    const [chart] = buildCharts({ ...split, signals: [...split.signals, low, critical] });
    expect(chart!.markers).toMatchObject([
      { id: "r1", kind: "repaired", session: 2, value: 30, stack: 0 },
      { id: "s2", kind: "signal", session: 2, value: 30, stack: 1 },
      { id: "s3", kind: "signal", session: 3, value: 28, stack: 0 }, // alone on its point
    ]);
  });

  it("draws no split band when no split was detected", () => {
    const [chart] = buildCharts({ ...split, signals: [] });
    expect(chart!.splits).toEqual([]);
  });
});

describe("sign-in helpers", () => {
  const token = (claims: object) => `x.${btoa(JSON.stringify(claims)).replace(/=+$/, "")}.y`;

  it("reads a person's clinics and role from the token", () => {
    const session = sessionOf(token({ sub: "th-07", role: "clinician", clinics: ["clinic-north"], exp: 2000000000 }));
    expect(session).toMatchObject({ subject: "th-07", role: "clinician", clinics: ["clinic-north"] });
  });

  it("refuses a clinic system's token and never returns to another site", () => {
    expect(() => sessionOf(token({ sub: "ehr", scope: "responses:write", clinics: [], exp: 1 }))).toThrow();
    expect(safeReturn("//evil.example/console/")).toBe("/console/");
    expect(safeReturn("https://evil.example/")).toBe("/console/");
    expect(safeReturn("/console/clinics/clinic-north/alerts")).toBe("/console/clinics/clinic-north/alerts");
  });
});
