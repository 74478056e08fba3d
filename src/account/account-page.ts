// The account page's HTML: the person's secrets per server, and their connected applications.
import type { ConnectedApplication } from '../authz/connected-applications.js';
import { escapeHtml, notice, renderFragment, renderPage, SafeHtml } from '../web/views.js';
import type { SecretDeclaration, ServerSecrets } from './secret-declarations.js';

/** A secret's field that the last form post could not save, with why. */
export interface FieldError {
  server: string;
  name: string;
  message: string;
}

export interface AccountView {
  host: string;
  email: string;
  csrf: string;
  /** What the last action did (saved, deleted, revoked), or undefined. */
  status?: string;
  /** Servers that declare secrets, each with which of them the person has set and when. */
  servers: Array<ServerSecrets & { set: Map<string, number> }>;
  /** Secrets are declared but the gateway has no vault to keep them in. */
  secretsUnavailable: boolean;
  fieldError?: FieldError;
  applications: Array<ConnectedApplication & { serverNames: string[] }>;
  /** The longest an access token already issued to these applications may still live, in words. */
  accessTokenLifetime: string;
}

const dateFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

/** A moment as people read it, with its exact value for machines. */
export function timeElement(ms: number): SafeHtml {
  const when = new Date(ms);
  return new SafeHtml(`<time datetime="${when.toISOString()}">${escapeHtml(dateFormat.format(when))} UTC</time>`);
}

/** The ids of a secret's field and what describes it: the server and name together are unique on the page. */
const fieldIdOf = (server: string, name: string) => `secret:${server}:${name}`;

export function renderAccountPage(view: AccountView): string {
  return renderPage(
    'account',
    'Your account',
    view.host,
    {
      email: view.email,
      csrf: view.csrf,
      accessTokenLifetime: view.accessTokenLifetime,
      noticeBlock: view.status ? statusNotice(view.status) : undefined,
      secretsBlock: view.servers.length ? secretsSection(view) : undefined,
      applicationsBlock: applicationsList(view),
    },
    { wide: true },
  );
}

function statusNotice(message: string): SafeHtml {
  return new SafeHtml(`<p class="notice success" role="status">${escapeHtml(message)}</p>`);
}

function secretsSection(view: AccountView): SafeHtml {
  const unavailable = 'Secrets cannot be saved yet: the gateway has no encryption key for them (secretsKey). Tell the gateway operator.';
  return renderFragment('account-secrets', {
    unavailableBlock: view.secretsUnavailable ? notice('warning', unavailable) : undefined,
    serversBlock: new SafeHtml(
      view.servers
        .map((server) => {
          const secrets = server.secrets.map(
            ({ name, declaration }) => secretForm(view, server.server, name, declaration, server.set.get(name)).html,
          );
          return renderFragment('account-server', { server: server.server, secretsBlock: new SafeHtml(secrets.join('')) }).html;
        })
        .join(''),
    ),
  });
}

/** The help text of a secret: a URL becomes a link to it. */
function helpBlock(id: string, help: string | undefined): SafeHtml | undefined {
  if (!help) return undefined;
  const content = /^https:\/\/\S+$/.test(help)
    ? `Get it at <a href="${escapeHtml(help)}" rel="noopener noreferrer">${escapeHtml(help)}</a>`
    : escapeHtml(help);
  return new SafeHtml(`<p id="${escapeHtml(id)}" class="help">${content}</p>`);
}

function secretStatus(declaration: SecretDeclaration, setAt: number | undefined): SafeHtml {
  if (setAt !== undefined) return new SafeHtml(`Set on ${timeElement(setAt).html}`);
  return new SafeHtml(declaration.required ? 'Not set. This server cannot run its tools for you without it.' : 'Not set.');
}

function secretForm(view: AccountView, server: string, name: string, declaration: SecretDeclaration, setAt: number | undefined): SafeHtml {
  const fieldId = fieldIdOf(server, name);
  const label = declaration.label ?? name;
  const error = view.fieldError?.server === server && view.fieldError.name === name ? view.fieldError.message : undefined;
  const describedBy = [`${fieldId}:status`, declaration.help ? `${fieldId}:help` : '', error ? `${fieldId}:error` : ''].filter(Boolean);
  const errorBlock = error ? new SafeHtml(`<p id="${escapeHtml(fieldId)}:error" class="field-error">${escapeHtml(error)}</p>`) : undefined;
  // Without JavaScript, autofocus is what brings the person back to the field to correct.
  const fieldAttributes = new SafeHtml(error ? ' aria-invalid="true" autofocus' : '');
  const deleteButton =
    setAt === undefined
      ? undefined
      : new SafeHtml(
          `<button type="submit" name="action" value="delete">Delete<span class="visually-hidden"> ${escapeHtml(label)}</span></button>`,
        );
  return renderFragment('account-secret', {
    csrf: view.csrf,
    server,
    name,
    fieldId,
    label,
    requiredMark: declaration.required ? new SafeHtml(' <span class="required">(required)</span>') : undefined,
    status: secretStatus(declaration, setAt),
    helpBlock: helpBlock(`${fieldId}:help`, declaration.help),
    errorBlock,
    describedBy: describedBy.join(' '),
    fieldAttributes,
    saveLabel: setAt === undefined ? 'Save' : 'Replace',
    deleteButton,
  });
}

function applicationsList(view: AccountView): SafeHtml {
  if (view.applications.length === 0) return new SafeHtml('<p>No application is connected to your account.</p>');
  const items = view.applications.map(
    (app) =>
      renderFragment('account-application', {
        csrf: view.csrf,
        clientId: app.clientId,
        clientName: app.clientName,
        servers: app.serverNames.join(', ') || '(none)',
        redirectHost: redirectHosts(app.redirectUris),
        firstUsed: timeElement(app.firstUsed),
        lastUsed: timeElement(app.lastUsed),
      }).html,
  );
  return new SafeHtml(`<ul class="applications">${items.join('')}</ul>`);
}

function redirectHosts(uris: string[]): string {
  const hosts = new Set<string>();
  for (const uri of uris) {
    try {
      hosts.add(new URL(uri).host);
    } catch {
      // A registration keeps only valid URIs; nothing to show otherwise.
    }
  }
  return [...hosts].join(', ') || '(unknown)';
}

/** Seconds as people say them: "1 hour", "15 minutes", "2 days". */
export function durationInWords(seconds: number): string {
  const units: Array<[number, string]> = [
    [86_400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  for (const [size, unit] of units) {
    if (seconds >= size && seconds % size === 0) {
      const count = seconds / size;
      return `${count} ${unit}${count === 1 ? '' : 's'}`;
    }
  }
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
