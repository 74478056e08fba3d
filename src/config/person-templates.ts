/**
 * Per-person templates in a server's env, args, cwd and (remote) headers: `${user.sub}`,
 * `${user.email}`, `${user.name}`, `${user.dataDir}` and `${secret.NAME}`. They are expanded for
 * the one person a process (or a call) serves, long after the config was loaded; the load-time
 * `${VAR}` substitution never touches them, since a name with a dot is no environment variable.
 * Pure: checks for the config loader and expansion for the bridge, no I/O.
 */

export const PERSON_FIELDS = ['sub', 'email', 'name', 'dataDir'] as const;
export type PersonField = (typeof PERSON_FIELDS)[number];

/** `${user.x}` or `${secret.X}`; anything else with a dot inside `${…}` is reported, never passed on. */
const TEMPLATE = /\$\{(user|secret)\.([^}]*)\}/g;

/** What one person's templates expand to; a value that is not known expands to "". */
export interface PersonValues {
  sub: string;
  email?: string;
  name?: string;
  dataDir?: string;
  secrets?: Readonly<Record<string, string | undefined>>;
}

/** Whether the text holds any per-person template. */
export function hasPersonTemplate(text: string): boolean {
  return new RegExp(TEMPLATE.source).test(text);
}

/** The secret names `${secret.NAME}` templates in the text refer to. */
export function secretNamesIn(text: string): string[] {
  return [...text.matchAll(TEMPLATE)].filter((match) => match[1] === 'secret').map((match) => match[2]!);
}

/** The text with every template replaced by this person's value: a plain string, never shell-interpreted. */
export function expandPersonTemplates(text: string, person: PersonValues): string {
  return text.replace(TEMPLATE, (_match, kind: string, name: string) => {
    if (kind === 'secret') return person.secrets?.[name] ?? '';
    return (PERSON_FIELDS as readonly string[]).includes(name) ? (person[name as PersonField] ?? '') : '';
  });
}

/** The parts of a server's config that may hold templates, and what decides whether they may. */
export interface TemplatedServer {
  kind: 'stdio' | 'remote';
  isolation?: 'shared' | 'per-user' | 'per-session';
  env?: Record<string, string>;
  args?: string[];
  cwd?: string;
  headers?: Record<string, string>;
  secrets?: Record<string, unknown>;
  secretArguments?: Record<string, Record<string, string>>;
}

export interface TemplateProblem {
  /** Path below the server, e.g. ["env", "TOKEN"]. */
  path: Array<string | number>;
  message: string;
}

/** Every string of the server that templates may appear in, with its path. */
function templatedStrings(server: TemplatedServer): Array<{ path: Array<string | number>; text: string; perCall: boolean }> {
  const found: Array<{ path: Array<string | number>; text: string; perCall: boolean }> = [];
  for (const [key, text] of Object.entries(server.env ?? {})) found.push({ path: ['env', key], text, perCall: false });
  (server.args ?? []).forEach((text, i) => found.push({ path: ['args', i], text, perCall: false }));
  if (server.cwd !== undefined) found.push({ path: ['cwd'], text: server.cwd, perCall: false });
  for (const [key, text] of Object.entries(server.headers ?? {})) found.push({ path: ['headers', key], text, perCall: false });
  for (const [tool, args] of Object.entries(server.secretArguments ?? {}))
    for (const [arg, text] of Object.entries(args)) found.push({ path: ['secretArguments', tool, arg], text, perCall: true });
  return found;
}

/** What is wrong with one template in one field; undefined when it is fine. */
function templateProblem(server: TemplatedServer, kind: string, name: string, perCall: boolean): string | undefined {
  const written = `\${${kind}.${name}}`;
  if (kind === 'user' && !(PERSON_FIELDS as readonly string[]).includes(name))
    return `${written} is not a person template: use ${PERSON_FIELDS.map((field) => `\${user.${field}}`).join(', ')} or \${secret.NAME}`;
  if (kind === 'secret' && !Object.hasOwn(server.secrets ?? {}, name))
    return (
      `${written} names a secret the server does not declare: ` +
      `add "${name}" to its "secrets" (each person sets their own value on the account page)`
    );
  if (kind === 'user' && name === 'dataDir' && server.kind === 'remote')
    return `${written} is a folder of a process the gateway runs; a remote ("url") server has none`;
  if (!perCall && server.kind === 'stdio' && server.isolation === 'shared')
    return (
      `${written} names a person, but isolation is "shared": one process serves everyone, so it cannot hold one ` +
      `person's values. Use "per-user" (or "per-session")` +
      (kind === 'secret' ? ', or pass the secret as a tool argument with "secretArguments"' : '')
    );
  return undefined;
}

/**
 * Why the server's templates cannot work, one problem per template: an unknown `${user.x}`, a
 * `${secret.NAME}` the server does not declare, or a person named on a `shared` process (a
 * tool argument in `secretArguments` is filled per call, so it may name the caller anywhere).
 */
export function serverTemplateProblems(server: TemplatedServer): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  for (const { path, text, perCall } of templatedStrings(server)) {
    for (const match of text.matchAll(TEMPLATE)) {
      const message = templateProblem(server, match[1]!, match[2]!, perCall);
      if (message) problems.push({ path, message });
    }
  }
  return problems;
}

/** The secrets a server's process needs at start (those named in its env, args and cwd). */
export function secretsOfProcess(server: Pick<TemplatedServer, 'env' | 'args' | 'cwd'>): Set<string> {
  const texts = [...Object.values(server.env ?? {}), ...(server.args ?? []), server.cwd ?? ''];
  return new Set(texts.flatMap(secretNamesIn));
}
