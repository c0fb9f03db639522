// Alert inbox: the caller's open and acknowledged alerts, kept live by the alertNotices
// subscription; acknowledge, resolve with a note, snooze and reassign are mutations (commands:
// the alerts service applies them, and the notice of the change updates the list).
import { useEffect, useState } from "preact/hooks";
import { EvidenceList } from "../evidence";
import { AcknowledgeAlert, AlertNotices, Inbox, ReassignAlert, ResolveAlert, SnoozeAlert } from "../generated/documents";
import type { InboxQuery } from "../generated/graphql";
import { execute, onSocketState, subscribe } from "../graphql";
import { href } from "../router";
import { KIND_LABEL, Status, titleCase, useOperation, when } from "./load";

type Alert = InboxQuery["open"]["edges"][number]["node"];

export function InboxPage({ clinic }: { clinic: string }) {
  const loaded = useOperation(Inbox, { clinicId: clinic });
  const [live, setLive] = useState<"connecting" | "live" | "lost">("connecting");
  const [announcement, setAnnouncement] = useState("");

  useEffect(() => {
    setLive("connecting");
    const unfollow = onSocketState(setLive);
    const stop = subscribe(
      AlertNotices,
      { clinicId: clinic },
      (data) => {
        const n = data.alertNotices;
        setAnnouncement(`${KIND_LABEL[n.kind] ?? n.kind} alert on case ${n.caseId}: ${n.action}, now ${titleCase(n.status)}.`);
        loaded.reload();
      },
      () => setLive("lost"),
    );
    return () => {
      unfollow();
      stop();
    };
  }, [clinic]);

  const alerts = [...(loaded.data?.open.edges ?? []), ...(loaded.data?.acknowledged.edges ?? [])]
    .map((e) => e.node)
    .sort((a, b) => b.raisedAt.localeCompare(a.raisedAt));

  return (
    <>
      <h1 tabIndex={-1}>Alerts in {clinic}</h1>
      <p class={`live live-${live}`} role="status">
        {live === "live" ? "Live: changes appear as they happen." : live === "lost" ? "Live updates lost: reload the page." : "Connecting for live updates…"}
      </p>
      <p class="announce" aria-live="polite" data-testid="alert-announcement">{announcement}</p>
      <Status loaded={loaded} what="the alerts" />
      {loaded.data && alerts.length === 0 && <p>No open alerts.</p>}
      <ul class="alerts">
        {alerts.map((a) => <AlertCard key={a.alertId} alert={a} clinic={clinic} />)}
      </ul>
    </>
  );
}

function AlertCard({ alert, clinic }: { alert: Alert; clinic: string }) {
  const [sent, setSent] = useState<string | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const titleId = `alert-${alert.alertId}`;
  useEffect(() => setSent(null), [alert.status, alert.therapistId, alert.snoozedUntil]); // applied

  async function send(what: string, run: (id: string) => Promise<unknown>) {
    setFailed(null);
    try {
      await run(crypto.randomUUID());
      setSent(`${what}: sent; the change shows here once the alerts service applied it.`);
    } catch (error) {
      setFailed(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const form = (event: Event) => new FormData(event.currentTarget as HTMLFormElement);

  return (
    <li>
      <article class={`alert priority-${alert.priority.toLowerCase()}`} aria-labelledby={titleId}>
        <h2 id={titleId}>
          <span class={`badge kind-${alert.kind.toLowerCase()}`}>{KIND_LABEL[alert.kind] ?? alert.kind}</span>{" "}
          {alert.summary}
        </h2>
        <dl class="facts">
          <dt>Status</dt>
          <dd data-testid="alert-status">{titleCase(alert.status)}{alert.escalated ? " · escalated to supervisors" : ""}</dd>
          <dt>Priority</dt>
          <dd>{titleCase(alert.priority)}{alert.severity ? ` · ${titleCase(alert.severity)} severity` : ""}</dd>
          <dt>Case</dt>
          <dd><a href={href({ page: "case", clinic, caseId: alert.caseId })}>{alert.caseId}</a>{alert.instrument ? ` · ${alert.instrument}` : ""}{alert.sessionNumber !== null ? `, session ${alert.sessionNumber}` : ""}</dd>
          <dt>Raised</dt>
          <dd>{when(alert.raisedAt)}{alert.therapistId ? ` · for ${alert.therapistId}` : ""}</dd>
          {alert.snoozedUntil && (<><dt>Snoozed until</dt><dd>{when(alert.snoozedUntil)}</dd></>)}
          {alert.escalateAt && !alert.escalated && (<><dt>Escalates</dt><dd>{when(alert.escalateAt)}</dd></>)}
        </dl>
        <div class="actions">
          {alert.status === "OPEN" && (
            <button type="button" onClick={() => send("Acknowledge", (id) => execute(AcknowledgeAlert, { input: { alertId: alert.alertId, clientMutationId: id } }))}>
              Acknowledge
            </button>
          )}
          <details>
            <summary>Resolve</summary>
            <form onSubmit={(e) => { e.preventDefault(); const note = String(form(e).get("note")); void send("Resolve", (id) => execute(ResolveAlert, { input: { alertId: alert.alertId, clientMutationId: id, note } })); }}>
              <label>How was it resolved? <textarea name="note" required maxLength={2000} /></label>
              <button type="submit">Resolve</button>
            </form>
          </details>
          <details>
            <summary>Snooze</summary>
            <form onSubmit={(e) => { e.preventDefault(); const until = new Date(String(form(e).get("until"))).toISOString(); void send("Snooze", (id) => execute(SnoozeAlert, { input: { alertId: alert.alertId, clientMutationId: id, until } })); }}>
              <label>Until <input type="datetime-local" name="until" required /></label>
              <button type="submit">Snooze</button>
            </form>
          </details>
          <details>
            <summary>Reassign</summary>
            <form onSubmit={(e) => { e.preventDefault(); const f = form(e); void send("Reassign", (id) => execute(ReassignAlert, { input: { alertId: alert.alertId, clientMutationId: id, assigneeId: String(f.get("assignee")), note: String(f.get("note") ?? "") || null } })); }}>
              <label>Therapist id <input name="assignee" required pattern="[A-Za-z0-9._:-]{1,64}" /></label>
              <label>Note <input name="note" /></label>
              <button type="submit">Reassign</button>
            </form>
          </details>
        </div>
        {sent && <p role="status">{sent}</p>}
        {failed && <p role="alert" class="error">{failed}</p>}
        <details>
          <summary>History and evidence</summary>
          <ol class="history">
            {alert.history.map((h, i) => (
              <li key={i}>{when(h.at)}: {h.action} → {titleCase(h.status)}{h.actorId ? ` by ${h.actorId}` : ""}{h.note ? ` — “${h.note}”` : ""}</li>
            ))}
          </ol>
          <EvidenceList evidence={alert.evidence} />
        </details>
      </article>
    </li>
  );
}
