// History routing under /console/; only pseudonymous ids appear in the paths.
export type Route =
  | { page: "home" }
  | { page: "caseload"; clinic: string }
  | { page: "case"; clinic: string; caseId: string }
  | { page: "inbox"; clinic: string }
  | { page: "clinic-summary"; clinic: string }
  | { page: "network" }
  | { page: "unknown" };

const seg = (s: string) => encodeURIComponent(s);

export function parseRoute(pathname: string): Route {
  const parts = pathname.replace(/^\/console\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const [first, clinic, kind, caseId, ...rest] = parts;
  if (parts.length === 0) return { page: "home" };
  if (first === "network" && parts.length === 1) return { page: "network" };
  if (first !== "clinics" || !clinic || rest.length) return { page: "unknown" };
  if (kind === "cases" && caseId) return { page: "case", clinic, caseId };
  if (caseId) return { page: "unknown" };
  if (kind === "cases") return { page: "caseload", clinic };
  if (kind === "alerts") return { page: "inbox", clinic };
  if (kind === "summary") return { page: "clinic-summary", clinic };
  return { page: "unknown" };
}

export function href(route: Route): string {
  switch (route.page) {
    case "caseload":
      return `/console/clinics/${seg(route.clinic)}/cases`;
    case "case":
      return `/console/clinics/${seg(route.clinic)}/cases/${seg(route.caseId)}`;
    case "inbox":
      return `/console/clinics/${seg(route.clinic)}/alerts`;
    case "clinic-summary":
      return `/console/clinics/${seg(route.clinic)}/summary`;
    case "network":
      return "/console/network";
    default:
      return "/console/";
  }
}

type Listener = (route: Route) => void;
const listeners = new Set<Listener>();

export function navigate(to: string): void {
  history.pushState(null, "", to);
  for (const listener of listeners) listener(parseRoute(location.pathname));
}

export function onRoute(listener: Listener): () => void {
  listeners.add(listener);
  const pop = () => listener(parseRoute(location.pathname));
  addEventListener("popstate", pop);
  return () => {
    listeners.delete(listener);
    removeEventListener("popstate", pop);
  };
}

/** A link's click stays in the page (history API); modified clicks open as usual. */
export function follow(event: MouseEvent): void {
  const anchor = (event.target as Element).closest("a");
  if (!anchor || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(anchor.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/console/")) return;
  event.preventDefault();
  navigate(url.pathname);
}
