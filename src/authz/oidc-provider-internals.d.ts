// oidc-provider 9 keeps its grant handlers in a private registry; idempotent-token-exchange.ts
// wraps two of them. Only what it reads is declared.
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  export default function instance(provider: object): { grantTypeHandlers: Map<string, unknown> };
}
