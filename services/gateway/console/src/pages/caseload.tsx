// Caseload: a clinic's cases the caller may see, a page at a time (keyset cursors), with the
// phase, the latest alliance and outcome and a badge per active (open or acknowledged) alert,
// each case's own (`Case.activeAlerts`); filters by phase and by the kind of an active alert,
// both in the query (so every page holds only matching cases).
import { useState } from "preact/hooks";
import { Caseload } from "../generated/documents";
import type { AlertKind, CaseloadQuery, Phase } from "../generated/graphql";
import { href } from "../router";
import { KIND_LABEL, Status, titleCase, useOperation } from "./load";

const PHASES: Phase[] = ["FOUNDATION", "WORK", "TERMINATION", "CLOSED"];
// Alliance instruments, the session-by-session ones first (the ones a caseload compares).
const ALLIANCE = ["SRS", "CSRS", "WAI-SR", "TASC-R"];
type CaseRow = CaseloadQuery["clinic"]["cases"]["edges"][number]["node"];

function latestAlliance(row: CaseRow): string {
  const client = row.dyads.find((d) => d.respondentRole === "CLIENT");
  const scores = (client?.latest ?? []).filter((s) => ALLIANCE.includes(s.instrument));
  const latest = scores.sort(
    (a, b) => b.sessionNumber - a.sessionNumber || ALLIANCE.indexOf(a.instrument) - ALLIANCE.indexOf(b.instrument),
  )[0];
  return latest ? `${latest.instrument} ${latest.total} (session ${latest.sessionNumber})` : "–";
}

function latestOutcome(row: CaseRow): string {
  const outcome = row.outcomes.find((o) => o.respondentRole === "CLIENT") ?? row.outcomes[0];
  if (!outcome) return "–";
  const track = outcome.onTrack === null ? "" : outcome.onTrack ? ", on track" : ", not on track";
  return `${outcome.instrument} ${outcome.latestTotal} · ${titleCase(outcome.outcomeClass)}${track}`;
}

export function CaseloadPage({ clinic }: { clinic: string }) {
  const [phase, setPhase] = useState<Phase | "">("");
  const [kind, setKind] = useState<AlertKind | "">("");
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1] ?? null;
  const loaded = useOperation(Caseload, { clinicId: clinic, after, phase: phase || null, openAlertKind: kind || null });
  const data = loaded.data;
  const rows = (data?.clinic.cases.edges ?? []).map((e) => e.node);
  const page = data?.clinic.cases.pageInfo;

  return (
    <>
      <h1 tabIndex={-1}>Caseload of {clinic}</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Phase{" "}
          <select value={phase} onChange={(e) => { setPhase((e.target as HTMLSelectElement).value as Phase | ""); setCursors([null]); }}>
            <option value="">All phases</option>
            {PHASES.map((p) => <option key={p} value={p}>{titleCase(p)}</option>)}
          </select>
        </label>
        <label>
          Open alert{" "}
          <select value={kind} onChange={(e) => { setKind((e.target as HTMLSelectElement).value as AlertKind | ""); setCursors([null]); }}>
            <option value="">Any or none</option>
            {Object.entries(KIND_LABEL).map(([k, label]) => <option key={k} value={k}>{label}</option>)}
          </select>
        </label>
      </form>
      <Status loaded={loaded} what="the caseload" />
      {data && (
        <table class="caseload" aria-busy={loaded.loading}>
          <caption>
            {rows.length} case{rows.length === 1 ? "" : "s"} on this page{kind ? ` with an open ${KIND_LABEL[kind]} alert` : ""} (page {cursors.length})
          </caption>
          <thead>
            <tr>
              <th scope="col">Case</th>
              <th scope="col">Phase</th>
              <th scope="col">Session</th>
              <th scope="col">Latest alliance</th>
              <th scope="col">Latest outcome</th>
              <th scope="col">Open alerts</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.caseId}>
                <th scope="row"><a href={href({ page: "case", clinic, caseId: row.caseId })}>{row.caseId}</a></th>
                <td>{titleCase(row.phase)}{row.episode.ending ? ` (${row.episode.ending})` : ""}</td>
                <td>{row.latestSession}</td>
                <td>{latestAlliance(row)}</td>
                <td>{latestOutcome(row)}</td>
                <td>
                  <ul class="badges" aria-label={`Open alerts of ${row.caseId}`}>
                    {row.activeAlerts.map((a) => (
                      <li key={a.alertId} class={`badge kind-${a.kind.toLowerCase()}`} title={titleCase(a.status)}>{KIND_LABEL[a.kind] ?? a.kind}</li>
                    ))}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Caseload pages">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>Previous page</button>
        <button type="button" disabled={!page?.hasNextPage} onClick={() => page?.endCursor && setCursors([...cursors, page.endCursor])}>Next page</button>
      </nav>
    </>
  );
}
