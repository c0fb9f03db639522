// A rule's evidence as the API gives it: the rule, its inputs, its threshold and its source.
import type { Evidence } from "./charts/model";

function show(value: unknown): string {
  return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
}

export function EvidenceList({ evidence }: { evidence: Evidence[] }) {
  if (evidence.length === 0) return <p>No rule evidence recorded.</p>;
  return (
    <ul class="evidence">
      {evidence.map((e, i) => (
        <li key={i}>
          <dl>
            <dt>Rule</dt>
            <dd><code>{e.rule}</code></dd>
            <dt>Threshold</dt>
            <dd>{e.threshold}</dd>
            <dt>Inputs</dt>
            <dd>
              <ul class="inputs">
                {Object.entries(e.inputs).map(([k, v]) => (
                  <li key={k}>{k}: {show(v)}</li>
                ))}
              </ul>
            </dd>
            <dt>Source</dt>
            <dd>{e.citation}</dd>
          </dl>
        </li>
      ))}
    </ul>
  );
}
