// Alert inbox: the caller's open and acknowledged alerts, each list a page at a time (keyset:
// "More" loads the next), kept live by the alertNotices subscription; acknowledge, resolve with a
// note, snooze and reassign are mutations (commands: the alerts service applies them, and the
// notice of the change updates the lists).
import { useEffect, useRef, useState } from "preact/hooks";
import { EvidenceList } from "../evidence";
import { AcknowledgeAlert, AlertNotices, Inbox, ReassignAlert, ResolveAlert, SnoozeAlert } from "../generated/documents";
import type { AlertStatus, InboxQuery } from "../generated/graphql";
import { execute, onSocketState, SignedOut, subscribe } from "../graphql";
import { href } from "../router";
import { KIND_LABEL, type Loaded, Status, titleCase, when } from "./load";
import { nextPage, type PageOf, pagesFromTop } from "./paging";

type Alert = InboxQuery["alerts"]["edges"][number]["node"];
type AlertList = Loaded<PageOf<Alert>> & { more: () => boolean };

/** One status's alerts, newest first, as the pages shown so far. `more` appends the next page;
 * `reload` (a notice arrived) loads as many pages again from the top, so a change anywhere in
 * them shows and the list keeps its length. */
function useAlertList(clinic: string, status: AlertStatus): AlertList {
  const [state, setState] = useState<Omit<Loaded<PageOf<Alert>>, "reload">>({ data: null, error: null, loading: true });
  const pages = useRef(1);
  const run = useRef(0); // the newest load: an older one's answer is dropped
  const fetchPage = async (after: string | null): Promise<PageOf<Alert>> => {
    const { alerts } = await execute(Inbox, { clinicId: clinic, status, after });
    return { items: alerts.edges.map((e) => e.node), hasNextPage: alerts.pageInfo.hasNextPage, endCursor: alerts.pageInfo.endCursor };
  };
  function load(pagesOf: (fetch: typeof fetchPage) => Promise<PageOf<Alert>>) {
    const mine = ++run.current;
    setState((s) => ({ ...s, loading: true }));
    pagesOf(fetchPage).then(
      (data) => mine === run.current && setState({ data, error: null, loading: false }),
      (error: unknown) => {
        if (mine === run.current && !(error instanceof SignedOut)) {
          setState((s) => ({ ...s, error: error instanceof Error ? error.message : String(error), loading: false }));
        }
      },
    );
  }
  const reload = () => load((fetch) => pagesFromTop(fetch, pages.current));
  useEffect(() => {
    pages.current = 1;
    reload();
  }, [clinic, status]);
  /** Loads the next page; false when there is none or a load is under way. */
  const more = () => {
    const shown = state.data;
    if (!shown?.hasNextPage || state.loading) return false;
    pages.current += 1; // a reload from now on keeps this page too
    load((fetch) => nextPage(fetch, shown));
    return true;
  };
  return { ...state, reload, more };
}

export function InboxPage({ clinic }: { clinic: string }) {
  const open = useAlertList(clinic, "OPEN");
  const acknowledged = useAlertList(clinic, "ACKNOWLEDGED");
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
        open.reload();
        acknowledged.reload();
      },
      () => setLive("lost"),
    );
    return () => {
      unfollow();
      stop();
    };
  }, [clinic]);

  return (
    <>
      <h1 tabIndex={-1}>Alerts in {clinic}</h1>
      <p class={`live live-${live}`} role="status">
        {live === "live" ? "Live: changes appear as they happen." : live === "lost" ? "Live updates lost: reload the page." : "Connecting for live updates…"}
      </p>
      <p class="announce" aria-live="polite" data-testid="alert-announcement">{announcement}</p>
      <AlertSection clinic={clinic} status="OPEN" list={open} />
      <AlertSection clinic={clinic} status="ACKNOWLEDGED" list={acknowledged} />
    </>
  );
}

/** One list with its "More" button. After "More", focus goes to the first alert it added (or,
 * when none came, to the list's heading: the button is gone once the list has ended). */
function AlertSection({ clinic, status, list }: { clinic: string; status: AlertStatus; list: AlertList }) {
  const name = titleCase(status).toLowerCase();
  const headingId = `inbox-${name}`;
  // Asked for by "More": the list it extended and where its new alerts begin.
  const focusNext = useRef<{ from: PageOf<Alert> | null; at: number } | null>(null);
  const alerts = list.data?.items ?? [];
  useEffect(() => {
    const pending = focusNext.current;
    if (!pending || list.loading || (list.data === pending.from && !list.error)) return;
    focusNext.current = null;
    if (list.error) return; // the button stays, and the error is announced
    const added = alerts[pending.at];
    document.getElementById(added ? `alert-${added.alertId}` : headingId)?.focus();
  }, [list.data, list.error, list.loading]);

  return (
    <section class="alert-list" aria-labelledby={headingId}>
      <h2 id={headingId} tabIndex={-1}>{titleCase(status)}</h2>
      <Status loaded={list} what={`the ${name} alerts`} />
      {list.data && (
        <p class="shown">
          {alerts.length === 0 ? `No ${name} alerts.` : `${alerts.length} shown, newest first${list.data.hasNextPage ? "; older ones follow" : ""}.`}
        </p>
      )}
      <ul class="alerts">
        {alerts.map((a) => <AlertCard key={a.alertId} alert={a} clinic={clinic} />)}
      </ul>
      {list.data?.hasNextPage && (
        <button
          type="button"
          class="secondary"
          aria-disabled={list.loading}
          onClick={() => {
            const from = list.data;
            if (list.more()) focusNext.current = { from, at: alerts.length };
          }}
        >
          More {name} alerts
        </button>
      )}
    </section>
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
        <h3 id={titleId} tabIndex={-1}>
          <span class={`badge kind-${alert.kind.toLowerCase()}`}>{KIND_LABEL[alert.kind] ?? alert.kind}</span>{" "}
          {alert.summary}
        </h3>
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
