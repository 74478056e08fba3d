import { createHmac } from 'node:crypto';
import { sameSecret } from '../lib/same-secret.js';

/**
 * Form tokens bound to one interaction: an HMAC of its id under a server secret. The interaction
 * id is itself bound to the browser by oidc-provider's cookie, so a page from another site can
 * neither read nor forge a valid token.
 */
export class CsrfTokens {
  constructor(private readonly secret: string) {}

  issue(interactionUid: string): string {
    return createHmac('sha256', this.secret).update(`csrf:${interactionUid}`).digest('base64url');
  }

  verify(interactionUid: string, token: unknown): boolean {
    return typeof token === 'string' && sameSecret(token, this.issue(interactionUid));
  }
}
