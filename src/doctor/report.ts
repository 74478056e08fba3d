// The rows `doctor` prints, and how they are printed.
import { ProbeError } from './http-probe.js';

/** One line of the report: a check, what was seen, and for a failure what to change. */
export interface CheckRow {
  /** A stable name: people grep for it and tests assert on it. */
  check: string;
  ok: boolean;
  /** Passed, but something a client may trip over (an ok row with advice): never changes the exit code. */
  warning?: boolean;
  /** What was observed, on one line. */
  detail: string;
  /** What to change, on one line; every failed row and every warning has one. */
  fix?: string;
}

export const pass = (check: string, detail: string): CheckRow => ({ check, ok: true, detail });
export const fail = (check: string, detail: string, fix: string): CheckRow => ({ check, ok: false, detail, fix });
export const warning = (check: string, detail: string, advice: string): CheckRow => ({
  check,
  ok: true,
  warning: true,
  detail,
  fix: advice,
});

const MARK = { ok: '✓', failed: '✗', warning: '!' };
const MAX_DETAIL = 220;

/** Details quote what the gateway said; keep each one a single readable line. */
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_DETAIL ? `${flat.slice(0, MAX_DETAIL - 1)}…` : flat;
}

/** An aligned table (check, result, detail) with the fix on its own line under a failed row's detail, then the summary. */
export function renderReport(rows: readonly CheckRow[]): string {
  const width = Math.max('check'.length, ...rows.map((row) => row.check.length));
  const indent = ' '.repeat(width + 2 + 'result'.length + 2);
  const lines = [`${'check'.padEnd(width)}  result  detail`, `${'-'.repeat(width)}  ------  ${'-'.repeat(6)}`];
  for (const row of rows) {
    const mark = row.warning ? MARK.warning : row.ok ? MARK.ok : MARK.failed;
    lines.push(`${row.check.padEnd(width)}  ${mark.padEnd(6)}  ${oneLine(row.detail)}`);
    // Never shortened: a fix cut off in the middle is no fix.
    if ((!row.ok || row.warning) && row.fix) lines.push(`${indent}${row.warning ? 'note' : 'fix'}: ${row.fix.replace(/\s+/g, ' ').trim()}`);
  }
  lines.push('', summaryLine(rows));
  return `${lines.join('\n')}\n`;
}

export function summaryLine(rows: readonly CheckRow[]): string {
  const failed = rows.filter((row) => !row.ok).length;
  const warnings = rows.filter((row) => row.warning).length;
  // Warnings count as passed: the last part is only said when there are some.
  return `${rows.length - failed} passed, ${failed} failed${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}`;
}

/** Runs one check; a request that got no answer at all becomes that check's failure instead of ending the run. */
export async function guarded(check: string, publicUrl: string, run: () => Promise<CheckRow>): Promise<CheckRow> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ProbeError) {
      return fail(
        check,
        error.message,
        `is the gateway running and reachable at ${publicUrl}? (DNS, firewall, TLS certificate, the proxy in front)`,
      );
    }
    return fail(
      check,
      `doctor could not evaluate this check: ${error instanceof Error ? error.message : String(error)}`,
      'this is a bug in doctor; please report it with this output',
    );
  }
}
