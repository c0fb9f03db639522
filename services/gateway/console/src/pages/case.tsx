// Case: the phase strip, the episode and its ending, readiness, splits, one chart per
// instrument family (charts/model.ts) and the signals, each with its evidence.
import { useMemo } from "preact/hooks";
import { Chart } from "../charts/chart";
import { buildCharts } from "../charts/model";
import { EvidenceList } from "../evidence";
import { CaseDetail } from "../generated/documents";
import type { Phase } from "../generated/graphql";
import { href } from "../router";
import { Status, titleCase, useOperation, when } from "./load";

const STRIP: Phase[] = ["FOUNDATION", "WORK", "TERMINATION"];

export function CasePage({ clinic, caseId }: { clinic: string; caseId: string }) {
  const loaded = useOperation(CaseDetail, { clinicId: clinic, caseId });
  const data = loaded.data?.case ?? null;
  const charts = useMemo(() => (data ? buildCharts(data) : []), [data]);

  if (loaded.data && !data) {
    // The gateway answers null for a case that does not exist and one the caller may not see.
    return (
      <>
        <h1 tabIndex={-1}>Case not found</h1>
        <p>There is no case {caseId} in {clinic} that you may see.</p>
        <p><a href={href({ page: "caseload", clinic })}>Back to the caseload</a></p>
      </>
    );
  }
  return (
    <>
      <h1 tabIndex={-1}>Case {caseId}</h1>
      <Status loaded={loaded} what="the case" />
      {data && (
        <>
          <ol class="phases" aria-label="Phase">
            {STRIP.map((p) => (
              <li key={p} aria-current={data.phase === p ? "step" : undefined}>{titleCase(p)}</li>
            ))}
            {data.phase === "CLOSED" && <li aria-current="step">Closed</li>}
          </ol>
          <dl class="facts">
            <dt>Latest session</dt>
            <dd>{data.latestSession}</dd>
            <dt>Episode</dt>
            <dd>
              {data.episode.status}
              {data.episode.ending && ` — ${data.episode.ending} ending, ${when(data.episode.endedAt)}`}
            </dd>
            <dt>Termination readiness</dt>
            <dd>
              {data.readiness.ready ? "Ready to plan the ending" : "Not ready"}
              {data.readiness.reasons.length > 0 && (
                <ul>{data.readiness.reasons.map((r) => <li key={r}>{r}</li>)}</ul>
              )}
            </dd>
            {data.splits.length > 0 && (
              <>
                <dt>Split alliance</dt>
                <dd>
                  <ul>
                    {data.splits.map((s) => (
                      <li key={`${s.childDyadId}-${s.parentDyadId}`}>
                        {s.active ? "Active" : "Not active"}: parent minus child {s.gap.toFixed(2)} on the 0–1 scale{s.reason ? ` (${s.reason})` : ""}
                      </li>
                    ))}
                  </ul>
                </dd>
              </>
            )}
          </dl>
          {data.outcomes.length > 0 && (
            <table>
              <caption>Outcomes against intake</caption>
              <thead>
                <tr>
                  <th scope="col">Measure</th><th scope="col">Intake</th><th scope="col">Latest</th>
                  <th scope="col">Change</th><th scope="col">Class</th><th scope="col">Expected change</th>
                </tr>
              </thead>
              <tbody>
                {data.outcomes.map((o) => (
                  <tr key={`${o.instrument}-${o.respondentRole}-${o.respondentId ?? ""}`}>
                    <th scope="row">{titleCase(o.respondentRole)} · {o.instrument}</th>
                    <td>{o.baselineTotal} (session {o.baselineSession})</td>
                    <td>{o.latestTotal} (session {o.latestSession})</td>
                    <td>{o.improvement > 0 ? "+" : ""}{o.improvement} (reliable: {o.reliableChange}; cut-off {o.cutoff})</td>
                    <td>{titleCase(o.outcomeClass)}</td>
                    <td>{o.expectedImprovement === null ? "–" : o.expectedImprovement.toFixed(1)}{o.onTrack === null ? "" : o.onTrack ? ", on track" : ", not on track"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Charts</h2>
          {charts.map((chart, i) => <Chart key={chart.family} chart={chart} id={`chart-${i}`} />)}
          <h2>Signals</h2>
          <ol class="signals">
            {data.signals.map((s) => (
              <li key={s.signalId}>
                <details>
                  <summary>
                    {when(s.occurredAt)} — {s.summary}
                    {s.sessionNumber !== null ? ` (session ${s.sessionNumber})` : ""}
                  </summary>
                  <EvidenceList evidence={s.evidence} />
                </details>
              </li>
            ))}
          </ol>
        </>
      )}
    </>
  );
}
