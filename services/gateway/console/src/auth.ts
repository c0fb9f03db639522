// Sign-in: OpenID Connect authorization code with PKCE (S256) against the configured issuer,
// with the standard endpoints only (discovery, /authorize, /token), so the dev issuer of the
// local stack, Keycloak and Entra ID work alike. The access token lives in this module's memory
// only; sessionStorage holds the PKCE verifier and state for the redirect round trip, and a
// flag that a reload may sign in again without asking (the issuer's session decides).
import * as oauth from "oauth4webapi";
import type { OidcConfig } from "./config";

export type Role = "clinician" | "supervisor" | "clinic_admin" | "network_admin";

export interface Session {
  token: string;
  subject: string;
  role: Role;
  clinics: string[];
  expiresAt: number; // epoch seconds
}

const PENDING = "alliance.console.signin"; // {verifier, state, returnTo}: one round trip
const AGAIN = "alliance.console.signedIn"; // "1": a reload signs in again by itself

interface Pending {
  verifier: string;
  state: string;
  returnTo: string;
}

/** The claims the gateway reads (alliance_platform/tokens.py). The gateway verifies the token;
 * the console reads them only to show the caller's clinics and role. */
export function sessionOf(token: string): Session {
  const part = token.split(".")[1];
  if (!part) throw new Error("the access token is not a JWT");
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))) as Record<string, unknown>;
  const { sub, role, clinics, exp } = claims;
  if (typeof sub !== "string" || typeof role !== "string" || typeof exp !== "number") {
    throw new Error("the access token has no sub, role or exp: it is not a person's token");
  }
  if (!Array.isArray(clinics) || !clinics.every((c): c is string => typeof c === "string")) {
    throw new Error("the access token has no clinics");
  }
  return { token, subject: sub, role: role as Role, clinics, expiresAt: exp };
}

/** A returnTo that stays in the console (never another site). */
export function safeReturn(path: string | undefined): string {
  return path && path.startsWith("/console/") && !path.startsWith("//") ? path : "/console/";
}

function redirectUri(): string {
  return new URL("/console/", location.href).href;
}

function insecureOnLoopback(issuer: URL): Record<symbol, boolean> {
  // http only for an issuer on this machine (the local stack's dev issuer); else https.
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(issuer.hostname);
  return issuer.protocol === "http:" && loopback ? { [oauth.allowInsecureRequests]: true } : {};
}

async function server(config: OidcConfig): Promise<[oauth.AuthorizationServer, Record<symbol, boolean>]> {
  const issuer = new URL(config.issuer);
  const options = insecureOnLoopback(issuer);
  const response = await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...options });
  return [await oauth.processDiscoveryResponse(issuer, response), options];
}

export async function startSignIn(config: OidcConfig, returnTo: string): Promise<never> {
  const [as] = await server(config);
  if (!as.authorization_endpoint) throw new Error("the issuer has no authorization endpoint");
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const pending: Pending = { verifier, state, returnTo: safeReturn(returnTo) };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    response_type: "code",
    scope: config.scope,
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.href);
  return new Promise<never>(() => undefined); // the page is leaving
}

/** On the way back from the issuer (?code=…&state=…): the token, and where to go. */
export async function finishSignIn(config: OidcConfig): Promise<{ session: Session; returnTo: string } | null> {
  const here = new URL(location.href);
  const stored = sessionStorage.getItem(PENDING);
  if (!stored || !(here.searchParams.has("code") || here.searchParams.has("error"))) return null;
  sessionStorage.removeItem(PENDING); // one use
  const pending = JSON.parse(stored) as Pending;
  history.replaceState(null, "", pending.returnTo); // the code never stays in the address bar
  const [as, options] = await server(config);
  const client: oauth.Client = { client_id: config.clientId };
  const params = oauth.validateAuthResponse(as, client, here, pending.state);
  const response = await oauth.authorizationCodeGrantRequest(
    as, client, oauth.None(), params, redirectUri(), pending.verifier, options,
  );
  const result = await oauth.processAuthorizationCodeResponse(as, client, response, { requireIdToken: false });
  const session = sessionOf(result.access_token);
  sessionStorage.setItem(AGAIN, "1");
  return { session, returnTo: pending.returnTo };
}

export function signsInAgain(): boolean {
  return sessionStorage.getItem(AGAIN) === "1";
}

export function forget(): void {
  sessionStorage.removeItem(AGAIN);
  sessionStorage.removeItem(PENDING);
}
