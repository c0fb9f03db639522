// Clinic and network summaries (supervisors and admins): the aggregates the API serves, as
// bar charts made of text and boxes (each bar has its number written beside it).
import { ClinicSummary, NetworkSummary } from "../generated/documents";
import type { ClinicSummaryQuery } from "../generated/graphql";
import { Status, titleCase, useOperation, when } from "./load";

type Summary = ClinicSummaryQuery["clinicSummary"];

function Bars({ title, counts }: { title: string; counts: { key: string; count: number }[] }) {
  const max = Math.max(1, ...counts.map((c) => c.count));
  return (
    <figure class="bars">
      <figcaption>{title}</figcaption>
      <table>
        <tbody>
          {counts.map((c) => (
            <tr key={c.key}>
              <th scope="row">{titleCase(c.key)}</th>
              <td>
                <span class="bar" style={{ width: `${(100 * c.count) / max}%` }} aria-hidden="true" />
                <span class="count">{c.count}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

function SummaryView({ summary, heading }: { summary: Summary; heading: "h2" | "h3" }) {
  const H = heading;
  return (
    <section class="summary" aria-label={`Summary of ${summary.clinicId}`}>
      <H>{summary.clinicId}: {when(summary.since)} to {when(summary.until)}</H>
      <dl class="facts">
        <dt>Ruptures opened</dt><dd>{summary.rupturesOpened}</dd>
        <dt>Repaired</dt><dd>{summary.rupturesRepaired}</dd>
        <dt>Unresolved</dt><dd>{summary.rupturesUnresolved}</dd>
        <dt>Repair rate</dt><dd>{summary.repairRate === null ? "–" : `${Math.round(summary.repairRate * 100)} %`}</dd>
        <dt>Ready to plan the ending</dt><dd>{summary.terminationReady}</dd>
      </dl>
      <div class="charts">
        <Bars title="Cases by phase" counts={summary.casesByPhase} />
        <Bars title="Ruptures in the period" counts={[
          { key: "OPENED", count: summary.rupturesOpened },
          { key: "REPAIRED", count: summary.rupturesRepaired },
          { key: "UNRESOLVED", count: summary.rupturesUnresolved },
        ]} />
        <Bars title="Endings" counts={summary.endings} />
        <Bars title="Latest client SRS by decile (0–1 scale)" counts={summary.srsDistribution} />
      </div>
    </section>
  );
}

export function ClinicSummaryPage({ clinic }: { clinic: string }) {
  const loaded = useOperation(ClinicSummary, { clinicId: clinic });
  return (
    <>
      <h1 tabIndex={-1}>Summary of {clinic} (last 90 days)</h1>
      <Status loaded={loaded} what="the summary" />
      {loaded.data && <SummaryView summary={loaded.data.clinicSummary} heading="h2" />}
    </>
  );
}

export function NetworkPage() {
  const loaded = useOperation(NetworkSummary, {});
  return (
    <>
      <h1 tabIndex={-1}>Network summary (last 90 days)</h1>
      <Status loaded={loaded} what="the network summary" />
      {loaded.data?.network.clinics.map((c) => <SummaryView key={c.clinicId} summary={c} heading="h2" />)}
    </>
  );
}
