import type { GatewayConfig } from './schema.js';

/** What `check` prints: the URLs people and clients will use, and what is configured. */
export function summarise(config: GatewayConfig): string {
  const lines = [
    `issuer:        ${config.publicUrl}`,
    `listen:        ${config.listen.host}:${config.listen.port}${config.trustProxy ? ' (behind a trusted proxy)' : ''}`,
    `storage:       ${config.storage}`,
    `login:         ${config.login.password ? `password (${config.login.password.users.length} user${config.login.password.users.length === 1 ? '' : 's'})` : 'none'}`,
  ];
  const rules = [...(config.access.allowEmails ?? []), ...(config.access.allowDomains ?? []).map((d) => `*@${d}`)];
  lines.push(`access:        ${rules.length ? rules.join(', ') : 'every configured account'}`);
  lines.push(`tokens:        access ${config.tokens.accessTokenTtl}s, refresh ${config.tokens.refreshTokenTtl}s, grant ${config.tokens.grantTtl}s, refresh grace ${config.tokens.refreshGracePeriod}s`);
  lines.push('MCP servers (add these URLs as connectors):');
  for (const [name, server] of Object.entries(config.mcpServers)) {
    const target = 'command' in server ? `stdio: ${[server.command, ...server.args].join(' ')} (${server.isolation})` : `remote: ${server.url}`;
    lines.push(`  ${config.publicUrl}/mcp/${name}  ->  ${target}`);
  }
  return lines.join('\n');
}
