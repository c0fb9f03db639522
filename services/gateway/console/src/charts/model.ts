// From a case as the API serves it to one chart per instrument family: the series of every
// dyad on the same axes, the cut-off, rupture and signal markers with their evidence, the
// split-alliance bands and the expected-change bands of outcome measures. Pure: no DOM.
import type { CaseDetailQuery, RespondentRole } from "../generated/graphql";

export type CaseData = NonNullable<CaseDetailQuery["case"]>;
type Dyad = CaseData["dyads"][number];
export type Evidence = Dyad["ruptures"][number]["evidence"][number];

export interface Point {
  session: number;
  total: number;
  normalized: number;
  at: string;
}
export interface Series {
  key: string;
  label: string;
  role: RespondentRole;
  instrument: string;
  points: Point[];
}
export type MarkerKind = "open" | "repaired" | "escalated" | "signal";
export interface Marker {
  id: string;
  kind: MarkerKind;
  session: number;
  value: number;
  title: string;
  evidence: Evidence[];
  /** Its place among the markers of the same point, from 0 (ruptures first, then signals):
   * drawn that many marker heights above the point, so that none covers another. */
  stack: number;
}
export interface Band {
  from: number;
  to: number;
}
export interface ExpectedBand {
  label: string;
  from: number;
  to: number;
  low: [number, number];
  high: [number, number];
}
export interface ChartModel {
  family: string;
  title: string;
  construct: "alliance" | "outcome";
  sessions: number[];
  series: Series[];
  cutoff: number | null;
  markers: Marker[];
  splits: Band[];
  expected: ExpectedBand[];
}

const TITLES: Record<string, string> = {
  SRS: "Session alliance (SRS, child CSRS)",
  ORS: "Outcome (ORS, child CORS)",
  "WAI-SR": "Working alliance (WAI-SR)",
  "TASC-R": "Child alliance (TASC-R)",
  "OQ-45.2": "Outcome (OQ-45.2)",
};
const OUTCOME_FAMILIES = new Set(["ORS", "OQ-45.2"]);
const LOWER_IS_BETTER = new Set(["OQ-45.2"]); // only when the scores cannot tell

/** The child form shares its adult form's axes: CSRS with SRS, CORS with ORS. */
export function familyOf(instrument: string): string {
  return instrument === "CSRS" || instrument === "CORS" ? instrument.slice(1) : instrument;
}

const ROLE_LABEL: Record<RespondentRole, string> = { CLIENT: "Client", PARENT: "Parent", THERAPIST: "Therapist" };

function seriesLabel(dyad: Dyad, instrument: string, parents: Dyad[]): string {
  const role = ROLE_LABEL[dyad.respondentRole];
  const which = dyad.respondentRole === "PARENT" && parents.length > 1 ? ` ${parents.indexOf(dyad) + 1}` : "";
  return `${role}${which} · ${instrument}`;
}

function splitBands(series: Series[], threshold: number | null): Band[] {
  if (threshold === null) return [];
  const child = series.find((s) => s.role === "CLIENT");
  const parents = series.filter((s) => s.role === "PARENT");
  if (!child || parents.length === 0) return [];
  const split = child.points
    .filter((c) =>
      parents.some((p) => p.points.some((q) => q.session === c.session && q.normalized - c.normalized >= threshold)),
    )
    .map((c) => c.session);
  const bands: Band[] = [];
  for (const session of split) {
    const last = bands[bands.length - 1];
    if (last && session - last.to <= 1) last.to = session;
    else bands.push({ from: session, to: session });
  }
  return bands;
}

function expectedBands(data: CaseData, family: string): ExpectedBand[] {
  return data.outcomes
    .filter((o) => familyOf(o.instrument) === family && o.expectedImprovement !== null)
    .map((o) => {
      const moved = o.latestTotal - o.baselineTotal;
      const better = moved !== 0 && o.improvement !== 0 ? Math.sign(moved * o.improvement) : LOWER_IS_BETTER.has(family) ? -1 : 1;
      const expected = o.baselineTotal + better * (o.expectedImprovement ?? 0);
      const r = o.reliableChange;
      return {
        label: `${ROLE_LABEL[o.respondentRole]} · ${o.instrument}: expected change ${(o.expectedImprovement ?? 0).toFixed(1)} ± ${r}`,
        from: o.baselineSession,
        to: o.latestSession,
        low: [o.baselineTotal - r, expected - r],
        high: [o.baselineTotal + r, expected + r],
      };
    });
}

const RUPTURE_KIND = { OPEN: "open", REPAIRED: "repaired", UNRESOLVED: "escalated" } as const;
const SIGNAL_MARKERS = new Set(["DETERIORATED", "OFF_TRACK", "CRITICAL_ITEM", "EARLY_LOW_ALLIANCE"]);

export function buildCharts(data: CaseData): ChartModel[] {
  const parents = data.dyads.filter((d) => d.respondentRole === "PARENT");
  const families = new Map<string, ChartModel>();
  const cutoffEvidence = [
    ...data.dyads.flatMap((d) => d.ruptures.map((r) => [r.instrument, r.evidence] as const)),
    ...data.signals.map((s) => [s.instrument ?? "", s.evidence] as const),
  ];
  const splitSignals = data.signals.filter((s) => s.kind === "SPLIT_DETECTED");
  const splitThreshold = splitSignals.flatMap((s) => s.evidence).find((e) => e.rule === "split_alliance")?.threshold ?? null;
  // The rule compares the latest ratings on any alliance instrument: bands go on the charts of
  // the instruments a split was detected on.
  const splitFamilies = new Set(splitSignals.map((s) => (s.instrument ? familyOf(s.instrument) : "*")));

  for (const dyad of data.dyads) {
    const byInstrument = new Map<string, Point[]>();
    for (const score of dyad.timeline) {
      const points = byInstrument.get(score.instrument) ?? [];
      points.push({ session: score.sessionNumber, total: score.total, normalized: score.normalized, at: score.administeredAt });
      byInstrument.set(score.instrument, points);
    }
    for (const [instrument, points] of byInstrument) {
      const family = familyOf(instrument);
      let chart = families.get(family);
      if (!chart) {
        const outcome = OUTCOME_FAMILIES.has(family);
        const cutoff = outcome
          ? (data.outcomes.find((o) => familyOf(o.instrument) === family)?.cutoff ??
            dyad.timeline.find((s) => s.instrument === instrument)?.clinicalRange?.cutoff ??
            null)
          : (cutoffEvidence
              .filter(([i]) => familyOf(i) === family)
              .flatMap(([, ev]) => ev)
              .find((e) => e.rule === "below_cutoff")?.threshold ?? null);
        chart = {
          family,
          title: TITLES[family] ?? family,
          construct: outcome ? "outcome" : "alliance",
          sessions: [],
          series: [],
          cutoff,
          markers: [],
          splits: [],
          expected: outcome ? expectedBands(data, family) : [],
        };
        families.set(family, chart);
      }
      points.sort((a, b) => a.session - b.session);
      chart.series.push({ key: `${dyad.dyadId}:${instrument}`, label: seriesLabel(dyad, instrument, parents), role: dyad.respondentRole, instrument, points });
      for (const rupture of dyad.ruptures.filter((r) => r.instrument === instrument)) {
        const at = points.find((p) => p.session === rupture.openedSession);
        const kind = RUPTURE_KIND[rupture.status];
        chart.markers.push({
          id: rupture.ruptureId,
          stack: 0,
          kind,
          session: rupture.openedSession,
          value: at?.total ?? rupture.target,
          title:
            `Rupture (${rupture.severity.toLowerCase()}) opened at session ${rupture.openedSession}, ${ROLE_LABEL[dyad.respondentRole].toLowerCase()} ${instrument}: ` +
            (kind === "repaired" ? `repaired at session ${rupture.resolvedSession}` : kind === "escalated" ? "unresolved, escalated" : "open"),
          evidence: rupture.evidence,
        });
      }
      for (const signal of data.signals) {
        if (signal.dyadId !== dyad.dyadId || signal.instrument !== instrument || signal.sessionNumber === null) continue;
        if (!SIGNAL_MARKERS.has(signal.kind)) continue;
        const at = points.find((p) => p.session === signal.sessionNumber);
        if (!at) continue;
        chart.markers.push({ id: signal.signalId, stack: 0, kind: "signal", session: at.session, value: at.total, title: `${signal.summary} (session ${at.session})`, evidence: signal.evidence });
      }
    }
  }
  for (const chart of families.values()) {
    stackMarkers(chart.markers);
    chart.sessions = [...new Set(chart.series.flatMap((s) => s.points.map((p) => p.session)))].sort((a, b) => a - b);
    chart.series.sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.label.localeCompare(b.label));
    if (chart.construct === "alliance" && (splitFamilies.has(chart.family) || splitFamilies.has("*"))) {
      chart.splits = splitBands(chart.series.filter((s) => s.role !== "THERAPIST"), splitThreshold);
    }
  }
  return [...families.values()].sort((a, b) => (a.construct === b.construct ? a.family.localeCompare(b.family) : a.construct === "alliance" ? -1 : 1));
}

const ROLE_ORDER: Record<RespondentRole, number> = { CLIENT: 0, PARENT: 1, THERAPIST: 2 };

/** Numbers the markers of each point (session and value) in the order they were added, ruptures
 * before signals: a signal at the session a rupture opened sits above the rupture's marker. */
function stackMarkers(markers: Marker[]): void {
  const placed = new Map<string, number>();
  for (const marker of markers) {
    const point = `${marker.session}:${marker.value}`;
    marker.stack = placed.get(point) ?? 0;
    placed.set(point, marker.stack + 1);
  }
}

/** The chart's values aligned on its sessions, one array per series (null: not rated then). */
export function aligned(chart: ChartModel): [number[], ...(number | null)[][]] {
  return [
    chart.sessions,
    ...chart.series.map((s) => chart.sessions.map((session) => s.points.find((p) => p.session === session)?.total ?? null)),
  ];
}
