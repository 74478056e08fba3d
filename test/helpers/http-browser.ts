/**
 * A minimal user agent for tests that are about the protocol rather than the pages: it keeps
 * cookies, follows redirects by hand, and stops at the client's redirect URI. The browser tests
 * drive the same pages in real Chromium.
 */
export class HttpBrowser {
  /** Cookies by path, then name, as a browser scopes them. */
  private readonly cookies = new Map<string, Map<string, string>>();

  /** `replicas`: other addresses of the same gateway (replicas behind one publicUrl), sent the same cookies. */
  constructor(
    private readonly gatewayOrigin: string,
    private readonly replicas: readonly string[] = [],
  ) {}

  private isGateway(url: string): boolean {
    return [this.gatewayOrigin, ...this.replicas].some((origin) => url.startsWith(origin));
  }

  private cookieHeader(url: string): string {
    const path = new URL(url).pathname;
    const pairs: string[] = [];
    for (const [cookiePath, jar] of this.cookies) {
      if (path === cookiePath || path.startsWith(cookiePath.endsWith('/') ? cookiePath : `${cookiePath}/`)) {
        for (const [name, value] of jar) pairs.push(`${name}=${value}`);
      }
    }
    return pairs.join('; ');
  }

  private remember(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const index = pair!.indexOf('=');
      const name = pair!.slice(0, index).trim();
      const value = pair!.slice(index + 1).trim();
      const path =
        attributes
          .map((a) => a.trim())
          .find((a) => a.toLowerCase().startsWith('path='))
          ?.slice(5) ?? '/';
      const jar = this.cookies.get(path) ?? new Map<string, string>();
      this.cookies.set(path, jar);
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.isGateway(url) ? this.cookieHeader(url) : '';
    if (cookie) headers.set('cookie', cookie);
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    if (this.isGateway(url)) this.remember(response);
    return response;
  }

  /** Follows redirects within the gateway; returns the first response that is not one, or the off-site Location. */
  async follow(url: string, init: RequestInit = {}): Promise<{ response?: Response; page?: string; url: string; leftTo?: string }> {
    let current = url;
    let response = await this.request(current, init);
    for (let hops = 0; hops < 20; hops++) {
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) {
        return { response, page: await response.text(), url: current };
      }
      const next = new URL(location, current).toString();
      if (!this.isGateway(next)) return { url: current, leftTo: next };
      current = next;
      response = await this.request(current);
    }
    throw new Error('too many redirects');
  }

  async submit(
    pageUrl: string,
    page: string,
    formAction: string,
    fields: Record<string, string>,
  ): Promise<ReturnType<HttpBrowser['follow']>> {
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const action = new URL(formAction, pageUrl).toString();
    return this.follow(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: this.gatewayOrigin },
      body: new URLSearchParams({ csrf, ...fields }),
    });
  }
}

export /** An HttpBrowser whose every request arrives through the (trusted, loopback) proxy from `ip`. */
class ForwardedBrowser extends HttpBrowser {
  constructor(
    origin: string,
    private readonly ip: string,
  ) {
    super(origin);
  }

  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.ip);
    return super.request(url, { ...init, headers });
  }
}

export function interactionAction(page: string, suffix: 'login' | 'confirm' | 'abort'): string {
  const match = new RegExp(`action="(/interaction/[^"]+/${suffix})"`).exec(page);
  if (!match) throw new Error(`no ${suffix} form on the page:\n${page.slice(0, 500)}`);
  return match[1]!;
}

/** Logs in (if asked) and approves consent (if asked); returns where the gateway sent the browser. */
export async function authorizeWithPassword(
  browser: HttpBrowser,
  url: string,
  user: { email: string; password: string },
  decision: 'approve' | 'deny' = 'approve',
): Promise<URL> {
  let step = await browser.follow(url);
  for (let i = 0; i < 4 && !step.leftTo; i++) {
    const page = step.page ?? '';
    if (page.includes('/login"')) {
      step = await browser.submit(step.url, page, interactionAction(page, 'login'), { email: user.email, password: user.password });
    } else if (page.includes('/confirm"')) {
      step = await browser.submit(step.url, page, interactionAction(page, 'confirm'), { decision });
    } else {
      throw new Error(`unexpected page (${step.response?.status}) at ${step.url}:\n${page.slice(0, 800)}`);
    }
  }
  if (!step.leftTo) throw new Error('the flow never returned to the client');
  return new URL(step.leftTo);
}
