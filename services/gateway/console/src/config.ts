// The gateway's /console/config.json: where to sign in (none: sign-in is not configured).
export interface OidcConfig {
  issuer: string;
  clientId: string;
  scope: string;
}

export interface ConsoleConfig {
  graphql: string;
  oidc: OidcConfig | null;
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch("/console/config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: ${response.status}`);
  return (await response.json()) as ConsoleConfig;
}
