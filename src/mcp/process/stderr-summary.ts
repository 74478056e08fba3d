/**
 * The one line of a failed MCP server's stderr that says what went wrong. npm (behind `npx`)
 * surrounds its one useful line ("… could not be found …") with boilerplate; Python ends a
 * traceback with the error itself. Pure, so it is tested on its own.
 */

const MAX_LENGTH = 300;

/** Lines that never explain anything: npm's codes, request echo, hints and log pointers. */
const BOILERPLATE = [
  /^npm (error|ERR!)\s*(404)?\s*$/i,
  /^npm (error|ERR!) code\b/i,
  /^npm (error|ERR!) (404 )?\s*Not Found - (GET|PUT|POST)\b/i,
  /^npm (error|ERR!) (404 )?\s*Note that you can also install/i,
  /^npm (error|ERR!) (404 )?\s*tarball, folder, http url/i,
  /^npm (error|ERR!) A complete log of this run/i,
  /^npm (warn|WARN)\b/i,
  /^\s*at\s/, // stack frames
  /^Traceback \(most recent call last\)/,
];

/** The strongest signs first: a missing thing, then any error. */
const TELLING = [
  new RegExp(
    [
      'could not be found',
      'not found',
      'cannot find',
      "can't find",
      'no such file',
      'ENOENT',
      'is not in this registry',
      'could not determine executable',
      'not recognized as',
    ].join('|'),
    'i',
  ),
  /error|exception|fatal|failed|denied|refused|invalid|missing/i,
];

/** The most telling line of `stderr`, or '' when it holds nothing. */
export function tellingStderrLine(stderr: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !BOILERPLATE.some((pattern) => pattern.test(line)));
  const latestFirst = lines.reverse();
  const telling =
    TELLING.map((pattern) => latestFirst.find((line) => pattern.test(line))).find((line) => line !== undefined) ?? latestFirst[0] ?? '';
  const clean = telling.replace(/^npm (error|ERR!) (404 )?\s*/i, '');
  return clean.length > MAX_LENGTH ? `${clean.slice(0, MAX_LENGTH - 1)}…` : clean;
}
