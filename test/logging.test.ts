import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { boundLogFields, clientInfoForLog, LINE_BUDGET } from '../src/log/bound.js';
import { chooseLogFormat, createLogger } from '../src/log/logger.js';
import { PersonLabels } from '../src/log/person-labels.js';
import { tellingStderrLine } from '../src/mcp/process/stderr-summary.js';
import { packageRoot } from '../src/paths.js';
import { ALICE, LogCapture, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { obtainTokens } from './helpers/tokens.js';

const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };
const MAX_LINE = 16 * 1024;

/** What `npx -y <a package that does not exist>` writes to stderr (npm 11). */
const NPM_404 = [
  'npm error code E404',
  'npm error 404 Not Found - GET https://registry.npmjs.org/@acme%2fmcp-nope - Not found',
  'npm error 404',
  "npm error 404  The requested resource '@acme/mcp-nope@*' could not be found or you do not have permission to access it.",
  'npm error 404',
  'npm error 404 Note that you can also install from a',
  'npm error 404 tarball, folder, http url, or git url.',
  'npm error A complete log of this run can be found in: /root/.npm/_logs/2026-01-01T00_00_00_000Z-debug-0.log',
].join('\n');

/** The top-level keys of a JSON line as written, duplicates included (JSON.parse would hide them). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (char === '"') {
      let end = i + 1;
      while (line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
      if (depth === 1 && line[end + 1] === ':') keys.push(line.slice(i + 1, end));
      i = end;
    } else if (char === '{' || char === '[') depth++;
    else if (char === '}' || char === ']') depth--;
  }
  return keys;
}

describe('log lines stay bounded', () => {
  it('cuts long strings, many keys, long arrays and deep nesting, and marks each cut', () => {
    const deep = { a: { b: { c: { d: { e: 'hidden' } } } } };
    const bounded = boundLogFields({
      name: 'x'.repeat(5_000_000),
      keys: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])),
      list: Array.from({ length: 100 }, (_, i) => i),
      deep,
    }) as any;
    assert.match(bounded.name, /^x+…\[\d+ more chars\]$/);
    assert.ok(bounded.name.length <= 2100);
    assert.equal(bounded.keys['…'], '60 more keys');
    assert.equal(bounded.list.at(-1), '…[80 more items]');
    assert.equal(bounded.deep.a.b.c.d, '[object]');
    assert.ok(JSON.stringify(bounded).length < LINE_BUDGET + 2048);
  });

  it('returns a small line unchanged, without copying it', () => {
    const fields = { event: 'mcp.tool_call', sub: 's', tool: 'echo', durationMs: 1.5 };
    assert.equal(boundLogFields(fields), fields);
  });

  it('keeps only the describing fields of clientInfo, each short', () => {
    assert.deepEqual(clientInfoForLog({ name: 'Claude', version: '1.0', extra: { huge: 'x' } }), { name: 'Claude', version: '1.0' });
    assert.ok(clientInfoForLog({ name: 'n'.repeat(10_000) })!.name!.length < 250);
    assert.equal(clientInfoForLog('not an object'), undefined);
  });

  it('bounds every line through the logger and still redacts secrets inside bounded objects', () => {
    const capture = new LogCapture();
    const logger = createLogger({ destination: capture });
    logger.info(
      { body: { password: 'hunter2', note: 'y'.repeat(3_000_000) }, many: Array.from({ length: 500 }, () => 'z'.repeat(5000)) },
      'big',
    );
    const [line] = capture.lines;
    assert.ok(line!.length < MAX_LINE, `line of ${line!.length} bytes`);
    assert.ok(!line!.includes('hunter2'));
    assert.equal(JSON.parse(line!).body.password, '[redacted]');
  });

  it('writes a field the logger already carries once', () => {
    const capture = new LogCapture();
    createLogger({ destination: capture }).child({ server: 'docs' }).info({ server: 'docs', pid: 7 }, 'MCP server started');
    assert.deepEqual(topLevelKeys(capture.lines[0]!), ['level', 'time', 'service', 'server', 'pid', 'msg']);
  });
});

describe('log format', () => {
  it('is pretty on a terminal, JSON otherwise, and LOG_FORMAT decides when set', () => {
    assert.equal(chooseLogFormat({}, true), 'pretty');
    assert.equal(chooseLogFormat({}, false), 'json');
    assert.equal(chooseLogFormat({ LOG_FORMAT: 'json' }, true), 'json');
    assert.equal(chooseLogFormat({ LOG_FORMAT: 'Pretty' }, false), 'pretty');
    assert.throws(() => chooseLogFormat({ LOG_FORMAT: 'yaml' }, false), /LOG_FORMAT must be "json" or "pretty", not "yaml"/);
    assert.throws(
      () => createLogger({ level: 'loud' }),
      /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, not "loud"/,
    );
  });

  it('pretty lines read as time, level, message, then each field once', async () => {
    const capture = new LogCapture();
    const logger = createLogger({ destination: capture, format: 'pretty' }).child({ server: 'docs' });
    logger.info({ server: 'docs', sub: 'u1', email: 'ann@example.com', stderr: 'not found' }, 'MCP session opened');
    await new Promise((r) => setImmediate(r));
    assert.match(
      capture.lines[0]!,
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: MCP session opened {2}server=docs sub=u1 email=ann@example\.com stderr="not found"$/,
    );
  });
});

describe('the most telling stderr line', () => {
  it("picks npm's could-not-be-found line over its boilerplate", () => {
    assert.equal(
      tellingStderrLine(NPM_404),
      "The requested resource '@acme/mcp-nope@*' could not be found or you do not have permission to access it.",
    );
  });
  it('picks the error at the end of a Python traceback', () => {
    const traceback = [
      'Traceback (most recent call last):',
      '  File "server.py", line 1, in <module>',
      '    import mcp',
      "ModuleNotFoundError: No module named 'mcp'",
      '',
    ].join('\n');
    assert.equal(tellingStderrLine(traceback), "ModuleNotFoundError: No module named 'mcp'");
  });
  it('falls back to the last line, and says nothing about nothing', () => {
    assert.equal(tellingStderrLine('starting\nlistening on stdio\n'), 'listening on stdio');
    assert.equal(tellingStderrLine(''), '');
    assert.ok(tellingStderrLine(`error ${'e'.repeat(5000)}`).length <= 300);
  });
});

describe('person labels', () => {
  it('looks a person up once and forgets the least recently used beyond capacity', async () => {
    const lookups: string[] = [];
    const labels = new PersonLabels(async (sub) => {
      lookups.push(sub);
      return `${sub}@example.com`;
    }, 2);
    assert.equal(await labels.emailOf('a'), 'a@example.com');
    assert.equal(await labels.emailOf('a'), 'a@example.com');
    await labels.emailOf('b');
    await labels.emailOf('c');
    assert.deepEqual(lookups, ['a', 'b', 'c']);
    assert.equal(labels.cachedEmailOf('a'), undefined, 'a was least recently used');
    assert.equal(labels.cachedEmailOf('c'), 'c@example.com');
  });
  it('labels nothing, rather than failing, when storage fails', async () => {
    assert.equal(
      await new PersonLabels(async () => {
        throw new Error('down');
      }).emailOf('a'),
      undefined,
    );
  });
});

describe('log lines of a running gateway', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      mcpServers: {
        peruser: { ...fixture, isolation: 'per-user' },
        npx: { command: process.execPath, args: ['-e', `process.stderr.write(${JSON.stringify(NPM_404)}); process.exit(1)`] },
      },
    });
  });
  after(async () => {
    await gw.close();
  });

  it('an initialize with a multi-megabyte clientInfo.name writes no line over 16 KB', async () => {
    const { access_token } = await obtainTokens(gw.url, 'peruser', ALICE);
    const mcp = new McpTestClient(`${gw.url}/mcp/peruser`, access_token);
    const reply = await mcp.post({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'n'.repeat(3 * 1024 * 1024), version: '1', extra: 'e'.repeat(500_000) },
      },
    });
    assert.equal(reply.status, 200);
    const longest = Math.max(...gw.logs.lines.map((line) => line.length));
    assert.ok(longest < MAX_LINE, `longest log line: ${longest} bytes`);
    const opened = gw.logs.lines.find((line) => line.includes('"event":"mcp.session"'));
    assert.ok(opened, 'the session line is written');
    assert.match(JSON.parse(opened).clientInfo.name, /^n{200}…\[\d+ more chars\]$/);
  });

  it('names the person by email beside sub on session and process lines, each field once', async () => {
    const { access_token } = await obtainTokens(gw.url, 'peruser', ALICE);
    await new McpTestClient(`${gw.url}/mcp/peruser`, access_token).initialize();
    const sub = (JSON.parse(Buffer.from(access_token.split('.')[1]!, 'base64url').toString()) as { sub: string }).sub;
    const named = (msg: string) =>
      gw.logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.msg === msg && line.sub === sub);
    assert.equal(named('MCP session opened')?.email, ALICE.email);
    assert.equal(named('MCP server started')?.email, ALICE.email);
    for (const line of gw.logs.lines) {
      const keys = topLevelKeys(line);
      assert.equal(new Set(keys).size, keys.length, `a field written twice: ${line.slice(0, 300)}`);
    }
  });

  it("reports a server that cannot start with npm's telling line, not its boilerplate", async () => {
    const { access_token } = await obtainTokens(gw.url, 'npx', ALICE);
    const reply = await new McpTestClient(`${gw.url}/mcp/npx`, access_token).post({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    const message = (reply.messages[0] as { error?: { message: string } }).error?.message ?? '';
    assert.match(message, /could not be started: .*\(stderr: The requested resource '@acme\/mcp-nope@\*' could not be found/);
    assert.match(message, /or you do not have permission to access it\.\)$/);
    const failed = gw.logs.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.msg === 'MCP server failed to start' && line.server === 'npx');
    assert.match(String(failed?.stderr), /^The requested resource .* could not be found/);
  });
});
