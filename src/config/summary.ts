import type { GatewayConfig } from './schema.js';
import { mcpResourceUrl } from './server-names.js';

/** What `check` prints: the URLs people and clients will use, and what is configured. */
export function summarise(config: GatewayConfig): string {
  const lines = [
    `issuer:        ${config.publicUrl}`,
    `listen:        ${config.listen.host}:${config.listen.port}${config.trustProxy ? ' (behind a trusted proxy)' : ''}`,
    `storage:       ${config.storage}`,
  ];
  const { password, google, github, oidc } = config.login;
  if (password) lines.push(`login:         password (${password.users.length} user${password.users.length === 1 ? '' : 's'})`);
  const upstreams: Array<[string, string]> = [
    ...(google ? [['google', google.label] as [string, string]] : []),
    ...(github ? [['github', github.label] as [string, string]] : []),
    ...(oidc ?? []).map((p) => [p.id, p.label] as [string, string]),
  ];
  for (const [id, label] of upstreams)
    lines.push(`login:         ${label}; register this redirect URI with it: ${config.publicUrl}/login/${id}/callback`);
  const { access } = config;
  const rules = [
    ...(access.allowEmails ?? []),
    ...(access.allowDomains ?? []).map((d) => `*@${d}`),
    ...(access.allowGithubOrgs ?? []).map((o) => `GitHub ${o}`),
    ...(access.allowGroups ?? []).map((g) => `group ${g}`),
  ];
  const others = access.allowAnyone ? 'anyone with an account at the provider' : rules.join(', ');
  lines.push(`access:        password users as listed${upstreams.length ? `; others: ${others}` : ''}`);
  const { accessTokenTtl, refreshTokenTtl, grantTtl, refreshGracePeriod } = config.tokens;
  lines.push(
    `tokens:        access ${accessTokenTtl}s, refresh ${refreshTokenTtl}s, grant ${grantTtl}s, refresh grace ${refreshGracePeriod}s`,
  );
  for (const [profile, override] of Object.entries(config.tokens.clients)) {
    if (override) lines.push(`               ${profile}: access ${override.accessTokenTtl}s`);
  }
  const { metrics } = config;
  if (!metrics) lines.push('metrics:       off (no /metrics)');
  else {
    const where = [
      ...(metrics.listen ? [`http://${metrics.listen.host}:${metrics.listen.port}/metrics`] : []),
      ...(metrics.token ? [`${config.publicUrl}/metrics`] : []),
    ];
    lines.push(`metrics:       ${where.join(' and ')}${metrics.token ? ' (with the bearer token)' : ''}`);
  }
  const limits = Object.entries(config.rateLimits).map(([name, rule]) => `${name} ${rule ? `${rule.limit}/${rule.window}s` : 'off'}`);
  lines.push(`rate limits:   ${limits.join(', ')} (login, register, token, authorize per IP; mcp, initialize per person)`);
  lines.push(`secrets:       ${secretsLine(config)}`);
  lines.push('MCP servers (add these URLs as connectors):');
  for (const [name, server] of Object.entries(config.mcpServers)) {
    const target =
      'command' in server ? `stdio: ${[server.command, ...server.args].join(' ')} (${server.isolation})` : `remote: ${server.url}`;
    lines.push(`  ${mcpResourceUrl(config.publicUrl, name)}  ->  ${target}`);
    const secrets = Object.entries(server.secrets).map(([secret, { required }]) => (required ? `${secret} (required)` : secret));
    if (secrets.length) lines.push(`      each person's secrets: ${secrets.join(', ')}`);
  }
  return lines.join('\n');
}

/** Whether the vault can store secrets, by key id (never the key). */
function secretsLine({ secretsKey, previousSecretsKey, mcpServers }: GatewayConfig): string {
  const declared = Object.values(mcpServers).some((server) => Object.keys(server.secrets).length > 0);
  if (!secretsKey)
    return declared ? 'no secretsKey: the declared secrets cannot be stored until one is set' : 'no secretsKey (none declared)';
  const previous = previousSecretsKey ? `; previousSecretsKey ${previousSecretsKey.id} (run rotate-secrets-key, then remove it)` : '';
  return `encrypted under secretsKey ${secretsKey.id}${previous}`;
}
