import type Provider from 'oidc-provider';
import type { GatewayConfig } from '../config/schema.js';
import type { ErrorPages } from '../web/error-pages.js';
import type { RateLimits } from '../web/rate-limit.js';
import type { Logger } from '../log/logger.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { KeyValueStore } from '../storage/store.js';
import type { UpstreamProvider } from '../upstream/upstream-provider.js';
import type { AccessPolicy } from './access-policy.js';
import type { AccountDirectory } from './accounts.js';
import type { CsrfTokens } from './csrf.js';

/** What the sign-in pages (password and upstream) are built from. */
export interface SignInDependencies {
  provider: Provider;
  /** The parts of the config the sign-in pages read: publicUrl, login (password users), tokens.grantTtl. */
  config: Pick<GatewayConfig, 'publicUrl' | 'login' | 'tokens'>;
  store: KeyValueStore;
  accounts: AccountDirectory;
  policy: AccessPolicy;
  csrf: CsrfTokens;
  logger: Logger;
  upstreams: ReadonlyMap<string, UpstreamProvider>;
  pages: ErrorPages;
  metrics?: GatewayMetrics;
  /** rateLimits.login: password attempts and upstream sign-in starts, per client IP. */
  rateLimits?: RateLimits;
}
