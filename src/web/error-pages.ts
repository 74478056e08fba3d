import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../log/logger.js';
import { asGatewayError, RateLimited, type GatewayError } from './errors.js';
import { PAGE_SECURITY_HEADERS, renderPage, type SafeHtml } from './views.js';

/** What an error page says: what happened, and what the person can do about it. */
export interface PageText {
  heading: string;
  message: string;
  advice: string;
  /** Buttons under the advice (such as "Return to the application"). */
  actions?: SafeHtml;
}

const START_AGAIN = 'Go back to the application you were connecting and start the connection again.';

const waitFor = (seconds: number) => `${Math.ceil(seconds / 60)} minute${seconds > 60 ? 's' : ''}`;
const sentence = (text: string) => `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;

/** The HTML surface: the page a person sees for a GatewayError, chosen by its `error` code. */
export function pageTextOf(error: GatewayError): PageText {
  switch (error.error) {
    case 'temporarily_unavailable':
      return {
        heading: 'Temporarily unavailable',
        message: 'The gateway cannot reach its storage right now.',
        advice: 'Try again in a few seconds.',
      };
    case 'rate_limited': {
      const [reason, retryAfter] = error instanceof RateLimited ? [error.reason, error.retryAfter] : [error.publicMessage, 60];
      return { heading: 'Too many sign-in attempts', message: sentence(reason), advice: `Wait ${waitFor(retryAfter)} and try again.` };
    }
    case 'sign_in_expired':
      return { heading: 'This sign-in has expired', message: sentence(error.publicMessage), advice: START_AGAIN };
    default:
      if (error.status < 500) {
        return {
          heading: 'Something went wrong',
          message: `The sign-in request could not be completed: ${error.publicMessage}.`,
          advice: `${START_AGAIN} If it keeps happening, tell the gateway operator.`,
        };
      }
      return {
        heading: 'Something went wrong',
        message: 'The gateway could not complete this request.',
        advice: 'Try again. If it keeps happening, tell the gateway operator.',
      };
  }
}

/** Error pages of one gateway: its host in the title bar, the request id at the bottom. */
export class ErrorPages {
  constructor(private readonly host: string) {}

  html(requestId: string | undefined, text: PageText): string {
    return renderPage('error', text.heading, this.host, { ...text, requestId: requestId ?? '-' });
  }

  /** A page with its own words (a refused account, an unknown sign-in method). */
  render(res: Response, status: number, heading: string, message: string, advice: string, actions?: SafeHtml): void {
    this.send(res, status, { heading, message, advice, actions });
  }

  /** The page of a GatewayError: its status, its headers (Retry-After) and pageTextOf's words. */
  sendError(res: Response, error: GatewayError, actions?: SafeHtml): void {
    this.send(res, error.status, { ...pageTextOf(error), actions }, error.headers);
  }

  private send(res: Response, status: number, text: PageText, headers: Record<string, string> = {}): void {
    res
      .status(status)
      .set({ ...PAGE_SECURITY_HEADERS, ...headers })
      .type('html')
      .send(this.html(res.req.id, text));
  }

  /**
   * Express's last handler: whatever a page route threw, logged and shown as a page. `classify`
   * turns it into a GatewayError; the caller knows which errors (oidc-provider's, storage's) mean what.
   */
  handler(logger: Logger, classify: (error: unknown) => GatewayError | Promise<GatewayError> = asGatewayError) {
    return async (error: unknown, req: Request, res: Response, _next: NextFunction): Promise<void> => {
      const failure = await classify(error);
      const level = failure.status >= 500 ? 'error' : 'info';
      logger[level]({ err: error, requestId: req.id, path: req.path, status: failure.status }, 'request failed');
      if (!res.headersSent) this.sendError(res, failure);
    };
  }
}
