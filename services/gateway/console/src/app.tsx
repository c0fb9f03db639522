// The console's frame: sign-in state, the header (caller, clinic switcher, navigation) and the
// page of the current route. On each route change the page's heading takes the focus.
import { useEffect, useRef, useState } from "preact/hooks";
import { finishSignIn, forget, safeReturn, type Session, signsInAgain, startSignIn } from "./auth";
import { type ConsoleConfig, loadConfig } from "./config";
import { closeSocket, setCredentials } from "./graphql";
import { CasePage } from "./pages/case";
import { CaseloadPage } from "./pages/caseload";
import { InboxPage } from "./pages/inbox";
import { ClinicSummaryPage, NetworkPage } from "./pages/summary";
import { follow, href, navigate, onRoute, parseRoute, type Route } from "./router";

type State =
  | { stage: "loading" }
  | { stage: "failed"; message: string }
  | { stage: "not-configured" }
  | { stage: "signed-out"; config: ConsoleConfig }
  | { stage: "signed-in"; config: ConsoleConfig; session: Session };

const SUPERVISING = new Set(["supervisor", "clinic_admin", "network_admin"]);

export function App() {
  const [state, setState] = useState<State>({ stage: "loading" });
  const [route, setRoute] = useState<Route>(parseRoute(location.pathname));

  useEffect(() => onRoute(setRoute), []);
  useEffect(() => {
    (async () => {
      const config = await loadConfig();
      if (!config.oidc) return setState({ stage: "not-configured" });
      const back = await finishSignIn(config.oidc);
      if (back) {
        signIn(config, back.session);
        setRoute(parseRoute(location.pathname));
      } else if (signsInAgain()) {
        await startSignIn(config.oidc, location.pathname);
      } else setState({ stage: "signed-out", config });
    })().catch((error: unknown) => setState({ stage: "failed", message: String(error instanceof Error ? error.message : error) }));
  }, []);

  function signIn(config: ConsoleConfig, session: Session) {
    let token: string | null = session.token;
    setCredentials({
      token: () => (token !== null && session.expiresAt * 1000 > Date.now() ? token : null),
      expired: () => {
        token = null;
        setState({ stage: "signed-out", config });
      },
    });
    setState({ stage: "signed-in", config, session });
  }

  function signOut(config: ConsoleConfig) {
    forget();
    closeSocket();
    setCredentials({ token: () => null, expired: () => undefined });
    setState({ stage: "signed-out", config });
  }

  switch (state.stage) {
    case "loading":
      return <p class="loading">Loading the Alliance console…</p>;
    case "failed":
      return <Notice title="The console could not start" text={state.message} />;
    case "not-configured":
      return (
        <Notice
          title="Sign-in is not configured"
          text="This gateway has no OpenID Connect issuer for the console (ALLIANCE_CONSOLE_OIDC_ISSUER and ALLIANCE_CONSOLE_OIDC_CLIENT_ID). Nothing can be shown without signing in: ask your administrator, or see docs/console.md."
        />
      );
    case "signed-out":
      return (
        <main class="signin" id="main">
          <h1>Alliance console</h1>
          <p>Sign in with your organisation's account to see your caseload and alerts.</p>
          <button type="button" onClick={() => startSignIn(state.config.oidc!, safeReturn(location.pathname))}>
            Sign in
          </button>
        </main>
      );
    case "signed-in":
      return <SignedIn session={state.session} route={route} onSignOut={() => signOut(state.config)} />;
  }
}

function Notice({ title, text }: { title: string; text: string }) {
  return (
    <main class="notice" id="main">
      <h1>{title}</h1>
      <p>{text}</p>
    </main>
  );
}

function SignedIn({ session, route, onSignOut }: { session: Session; route: Route; onSignOut: () => void }) {
  const main = useRef<HTMLElement>(null);
  const clinic = "clinic" in route ? route.clinic : (session.clinics[0] ?? "");
  const supervising = SUPERVISING.has(session.role);

  useEffect(() => {
    if (route.page === "home") {
      navigate(session.role === "network_admin" ? href({ page: "network" }) : href({ page: "caseload", clinic }));
      return;
    }
    // The new page's heading takes the focus, so a screen reader announces it.
    main.current?.querySelector<HTMLElement>("h1")?.focus();
  }, [route]);

  const page = (() => {
    switch (route.page) {
      case "caseload":
        return <CaseloadPage clinic={route.clinic} />;
      case "case":
        return <CasePage clinic={route.clinic} caseId={route.caseId} />;
      case "inbox":
        return <InboxPage clinic={route.clinic} />;
      case "clinic-summary":
        return <ClinicSummaryPage clinic={route.clinic} />;
      case "network":
        return <NetworkPage />;
      case "home":
        return null;
      default:
        return <h1 tabIndex={-1}>Page not found</h1>;
    }
  })();
  const current = (page: Route["page"]) => (route.page === page ? "page" : undefined);

  return (
    <div class="frame" onClick={(e) => follow(e)}>
      <a class="skip" href="#main">Skip to content</a>
      <header>
        <p class="brand">Alliance</p>
        <nav aria-label="Main">
          <ul>
            <li><a href={href({ page: "caseload", clinic })} aria-current={current("caseload")}>Caseload</a></li>
            <li><a href={href({ page: "inbox", clinic })} aria-current={current("inbox")}>Alerts</a></li>
            {supervising && <li><a href={href({ page: "clinic-summary", clinic })} aria-current={current("clinic-summary")}>Clinic summary</a></li>}
            {supervising && <li><a href={href({ page: "network" })} aria-current={current("network")}>Network</a></li>}
          </ul>
        </nav>
        {session.clinics.length > 1 && (
          <label class="switcher">
            Clinic{" "}
            <select
              value={clinic}
              onChange={(e) => {
                const next = (e.target as HTMLSelectElement).value;
                const page = route.page === "inbox" || route.page === "clinic-summary" ? route.page : "caseload";
                navigate(href({ page, clinic: next }));
              }}
            >
              {session.clinics.map((c) => (
                <option key={c} value={c}>{c}</option>
              ))}
            </select>
          </label>
        )}
        <p class="who">
          <span>{session.subject}</span> <span class="role">({session.role.replace("_", " ")})</span>
        </p>
        <button type="button" class="secondary" onClick={onSignOut}>Sign out</button>
      </header>
      <main id="main" ref={main}>
        {page}
      </main>
    </div>
  );
}
