// Loading an operation's data for a page, and showing its states.
import { useEffect, useState } from "preact/hooks";
import { execute, type Operation, SignedOut } from "../graphql";

export interface Loaded<R> {
  data: R | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

export function useOperation<R, V>(op: Operation<R, V>, variables: V): Loaded<R> {
  const key = JSON.stringify(variables);
  const [state, setState] = useState<{ data: R | null; error: string | null; loading: boolean }>({ data: null, error: null, loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    execute(op, variables).then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: unknown) => {
        if (live && !(error instanceof SignedOut)) {
          setState({ data: null, error: error instanceof Error ? error.message : String(error), loading: false });
        }
      },
    );
    return () => {
      live = false;
    };
  }, [key, round]);
  return { ...state, reload: () => setRound((r) => r + 1) };
}

export function Status({ loaded, what }: { loaded: Loaded<unknown>; what: string }) {
  if (loaded.error) return <p role="alert" class="error">Could not load {what}: {loaded.error}</p>;
  if (loaded.loading && loaded.data === null) return <p role="status">Loading {what}…</p>;
  return null;
}

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "–";
}

export const KIND_LABEL: Record<string, string> = {
  RUPTURE: "Rupture",
  EARLY_LOW_ALLIANCE: "Early low alliance",
  SPLIT_ALLIANCE: "Split alliance",
  DETERIORATION: "Deterioration",
  OFF_TRACK: "Not on track",
  CRITICAL_ITEM: "Critical item",
  TERMINATION_READINESS: "Termination readiness",
};

export function titleCase(value: string): string {
  return value.charAt(0) + value.slice(1).toLowerCase().replace(/_/g, " ");
}
