// helm/iot-telemetry/dashboards/import.sh against a fake Kibana on 127.0.0.1 that checks each
// request the way Kibana does, run with busybox sh (what curlimages/curl has) and with dash.
// A `curl` shim first on PATH records every invocation's argv and its stdin config, so the test
// can prove that credentials never appear on a command line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { DASHBOARDS_DIR } from './saved-objects.mjs';
import { makeTestCertificates } from '../../elastic-test-server/certificates.mjs';

const SCRIPT = path.join(DASHBOARDS_DIR, 'import.sh');
const USER = 'iot-dashboards';
// Quotes, a backslash, a colon and spaces: all must survive curl's config syntax intact.
const PASSWORD = 'p"a\\ss w:rd$1';
const SHELLS = [
  ['busybox', 'sh'],
  ['sh'], // dash on Debian
];

const realCurl = execFileSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).trim();
let tmp;
let shimDir;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-import-'));
  shimDir = path.join(tmp, 'bin');
  fs.mkdirSync(shimDir);
  // One record per call: argv (NUL-separated) and the config curl reads with -K - (its stdin).
  fs.writeFileSync(
    path.join(shimDir, 'curl'),
    `#!/bin/sh
config=$(cat)
{ printf 'ARGV'; printf '\\0%s' "$@"; printf '\\nCONFIG\\n%s\\nEND\\n' "$config"; } >>"$CURL_LOG"
printf '%s\\n' "$config" | exec "${realCurl}" "$@"
`,
    { mode: 0o755 },
  );
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fake Kibana. opts: notReadyCount (503s before 200), neverReady, importAnswer(fileName) -> body. */
async function fakeKibana({ notReadyCount = 3, neverReady = false, importAnswer, importHttpStatus = 200, space = '', tls, anonymous = false } = {}) {
  const state = { statusCalls: 0, imports: [], errors: [] };
  const prefix = space ? `/s/${space}` : '';
  const expectedAuth = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const handler = async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url, 'http://x');
    const send = (code, obj) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    if (anonymous ? req.headers.authorization !== undefined : req.headers.authorization !== expectedAuth) {
      state.errors.push(`${req.method} ${url.pathname}: authorization ${JSON.stringify(req.headers.authorization)}`);
      return send(401, { statusCode: 401, error: 'Unauthorized', message: 'Unauthorized' });
    }
    if (req.method === 'GET' && url.pathname === `${prefix}/api/status`) {
      state.statusCalls += 1;
      if (neverReady || state.statusCalls <= notReadyCount) return send(503, { status: { overall: { level: 'unavailable' } } });
      return send(200, { status: { overall: { level: 'available' } } });
    }
    if (url.pathname === `${prefix}/api/saved_objects/_import`) {
      const fail = (why) => {
        state.errors.push(`import: ${why}`);
        send(400, { statusCode: 400, error: 'Bad Request', message: why });
      };
      if (req.method !== 'POST') return fail(`method ${req.method}`);
      if (url.searchParams.get('overwrite') !== 'true') return fail(`query ${url.search}`);
      if (req.headers['kbn-xsrf'] !== 'true') return fail('missing kbn-xsrf');
      const m = /^multipart\/form-data;\s*boundary=(.+)$/.exec(req.headers['content-type'] ?? '');
      if (!m) return fail(`content-type ${req.headers['content-type']}`);
      const part = multipartFile(body, m[1].replace(/^"|"$/g, ''));
      if (!part) return fail('no multipart part named "file"');
      // Kibana refuses any other extension.
      if (!part.filename.endsWith('.ndjson')) return fail(`Invalid file extension ${part.filename}`);
      state.imports.push({ filename: part.filename, content: part.content });
      const n = part.content.toString('utf8').split('\n').filter((l) => l && !l.includes('"exportedCount"')).length;
      return send(importHttpStatus, importAnswer ? importAnswer(part.filename, n) : { success: true, successCount: n, successResults: [], warnings: [] });
    }
    send(404, { statusCode: 404, error: 'Not Found' });
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;
  state.close = () => new Promise((r) => server.close(r));
  return state;
}

/** The part named "file" of a multipart body: { filename, content } or undefined. */
function multipartFile(body, boundary) {
  const delim = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delim);
  while (pos !== -1) {
    const start = pos + delim.length + 2; // CRLF after the delimiter
    const next = body.indexOf(delim, start);
    if (next === -1) break;
    const part = body.subarray(start, next - 2); // CRLF before the next delimiter
    const headerEnd = part.indexOf('\r\n\r\n');
    const headers = part.subarray(0, headerEnd).toString('utf8');
    const name = /name="([^"]*)"/.exec(headers)?.[1];
    if (name === 'file') return { filename: /filename="([^"]*)"/.exec(headers)?.[1] ?? '', content: part.subarray(headerEnd + 4) };
    pos = next;
  }
  return undefined;
}

/** Run import.sh with `shell`; resolves { status, stdout, stderr, calls, ms }. */
function runImport(shell, env, { timeoutMs = 30_000, script = SCRIPT } = {}) {
  const log = path.join(tmp, `curl-${process.hrtime.bigint()}.log`);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(shell[0], [...shell.slice(1), script], {
      env: { PATH: `${shimDir}:${process.env.PATH}`, CURL_LOG: log, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`import.sh did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    p.on('close', (status) => {
      clearTimeout(timer);
      const raw = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
      const calls = raw
        .split('\nEND\n')
        .filter(Boolean)
        .map((rec) => {
          const [argvLine, ...rest] = rec.split('\nCONFIG\n');
          return { argv: argvLine.split('\0').slice(1), config: rest.join('\nCONFIG\n') };
        });
      resolve({ status, stdout, stderr, calls, ms: Date.now() - started });
    });
  });
}

const ndjsonFiles = () => fs.readdirSync(DASHBOARDS_DIR).filter((n) => n.endsWith('.ndjson')).sort();

function assertNoSecretsInArgv(calls) {
  assert.ok(calls.length > 0, 'curl was called');
  const secrets = [PASSWORD, `${USER}:${PASSWORD}`, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), 'ss w:rd'];
  for (const { argv } of calls) {
    for (const arg of argv) for (const s of secrets) assert.ok(!arg.includes(s), `a secret on curl's command line: ${JSON.stringify(argv)}`);
    assert.ok(!argv.some((a) => a === '-u' || a.startsWith('--user')), `credentials option on the command line: ${JSON.stringify(argv)}`);
    const k = argv.indexOf('-K');
    assert.ok(k !== -1 && argv[k + 1] === '-', `curl reads its config from stdin: ${JSON.stringify(argv)}`);
  }
}

describe('import.sh', () => {
  for (const shell of SHELLS) {
    test(`${shell.join(' ')}: waits for Kibana, imports every file once, keeps the password off the command line`, async () => {
      const k = await fakeKibana({ notReadyCount: 3 });
      try {
        const r = await runImport(shell, { KIBANA_URL: `${k.url}/`, KIBANA_USERNAME: USER, KIBANA_PASSWORD: PASSWORD, WAIT_SECONDS: '30', WAIT_INTERVAL: '1' });
        assert.equal(r.status, 0, `exit status\n${r.stdout}\n${r.stderr}`);
        assert.deepEqual(k.errors, []);
        assert.equal(k.statusCalls, 4, '503 three times, then 200');
        assert.deepEqual(k.imports.map((i) => i.filename).sort(), ndjsonFiles(), 'each file imported exactly once');
        for (const i of k.imports) assert.ok(i.content.equals(fs.readFileSync(path.join(DASHBOARDS_DIR, i.filename))), `${i.filename} sent byte for byte`);
        for (const f of ndjsonFiles()) assert.match(r.stdout, new RegExp(`${f.replace('.', '\\.')}: imported, successCount \\d+`));
        assertNoSecretsInArgv(r.calls);
        assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD), 'the password is never printed');
      } finally {
        await k.close();
      }
    });
  }

  test('password from KIBANA_PASSWORD_FILE (trailing newline dropped), a space, and the CA file through the config', async () => {
    const k = await fakeKibana({ notReadyCount: 0, space: 'ops' });
    const pwFile = path.join(tmp, 'password');
    fs.writeFileSync(pwFile, `${PASSWORD}\n`);
    const caFile = path.join(tmp, 'ca "bundle".pem');
    fs.writeFileSync(caFile, 'unused for http\n');
    try {
      const r = await runImport(SHELLS[0], { KIBANA_URL: k.url, KIBANA_USERNAME: USER, KIBANA_PASSWORD_FILE: pwFile, KIBANA_SPACE: 'ops', KIBANA_CA_FILE: caFile, WAIT_INTERVAL: '1' });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.deepEqual(k.errors, []);
      assert.equal(k.imports.length, ndjsonFiles().length);
      assertNoSecretsInArgv(r.calls);
      assert.ok(r.calls.every((c) => c.config.includes('cacert = "') && c.config.includes('ca \\"bundle\\".pem')), r.calls[0].config.replace(PASSWORD, '***'));
    } finally {
      await k.close();
    }
  });

  test('without credentials (Kibana with security off) sends no Authorization header', async () => {
    const k = await fakeKibana({ notReadyCount: 1, anonymous: true });
    try {
      const r = await runImport(SHELLS[1], { KIBANA_URL: k.url, WAIT_INTERVAL: '1' });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.deepEqual(k.errors, []);
      assert.equal(k.imports.length, ndjsonFiles().length);
    } finally {
      await k.close();
    }
  });

  test('https: trusts KIBANA_CA_FILE, and fails without it', async () => {
    const certs = makeTestCertificates();
    const k = await fakeKibana({ notReadyCount: 0, tls: certs });
    try {
      const env = { KIBANA_URL: k.url, KIBANA_USERNAME: USER, KIBANA_PASSWORD: PASSWORD, WAIT_SECONDS: '1', WAIT_INTERVAL: '1' };
      const untrusted = await runImport(SHELLS[0], env);
      assert.equal(untrusted.status, 1, 'an unknown CA is not trusted');
      assert.match(untrusted.stderr, /last answer: HTTP 000/);
      assert.equal(k.imports.length, 0);
      const trusted = await runImport(SHELLS[0], { ...env, KIBANA_CA_FILE: certs.caFile });
      assert.equal(trusted.status, 0, `${trusted.stdout}\n${trusted.stderr}`);
      assert.equal(k.imports.length, ndjsonFiles().length);
      assertNoSecretsInArgv(trusted.calls);
    } finally {
      await k.close();
      fs.rmSync(certs.dir, { recursive: true, force: true });
    }
  });

  test('exits non-zero with Kibana\'s answer when the import does not succeed', async () => {
    const answer = { success: false, successCount: 0, errors: [{ id: 'iot-events-dashboard', type: 'dashboard', error: { type: 'missing_references' } }] };
    const k = await fakeKibana({ notReadyCount: 0, importAnswer: () => answer });
    try {
      const r = await runImport(SHELLS[0], { KIBANA_URL: k.url, KIBANA_USERNAME: USER, KIBANA_PASSWORD: PASSWORD, WAIT_INTERVAL: '1' });
      assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, /did not report success \(HTTP 200\): .*"missing_references"/);
      assert.doesNotMatch(r.stdout, /imported, successCount/);
    } finally {
      await k.close();
    }
  });

  test('exits non-zero when Kibana answers the import with an HTTP error', async () => {
    const k = await fakeKibana({
      notReadyCount: 0,
      importHttpStatus: 500,
      importAnswer: () => ({ statusCode: 500, error: 'Internal Server Error', message: 'saved objects index unavailable' }),
    });
    try {
      const r = await runImport(SHELLS[1], { KIBANA_URL: k.url, KIBANA_USERNAME: USER, KIBANA_PASSWORD: PASSWORD, WAIT_INTERVAL: '1' });
      assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, /\(HTTP 500\): .*saved objects index unavailable/);
      assert.equal(k.imports.length, ndjsonFiles().length, 'every file is still tried');
    } finally {
      await k.close();
    }
  });

  test('gives up after WAIT_SECONDS when Kibana never becomes available', async () => {
    const k = await fakeKibana({ neverReady: true });
    try {
      const r = await runImport(SHELLS[0], { KIBANA_URL: k.url, KIBANA_USERNAME: USER, KIBANA_PASSWORD: PASSWORD, WAIT_SECONDS: '2', WAIT_INTERVAL: '1' });
      assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, /did not answer 200 on \/api\/status within 2s \(last answer: HTTP 503\)/);
      assert.ok(k.statusCalls >= 2, `polled ${k.statusCalls} times`);
      assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
      assert.equal(k.imports.length, 0);
    } finally {
      await k.close();
    }
  });

  test('gives up at once when Kibana refuses the credentials', async () => {
    const k = await fakeKibana({ notReadyCount: 0 });
    try {
      const r = await runImport(SHELLS[0], { KIBANA_URL: k.url, KIBANA_USERNAME: USER, KIBANA_PASSWORD: 'wrong', WAIT_SECONDS: '60', WAIT_INTERVAL: '1' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /refused the credentials \(HTTP 401/);
      assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
    } finally {
      await k.close();
    }
  });

  test('configuration errors: missing KIBANA_URL, user without password, bad WAIT_SECONDS', async () => {
    for (const shell of SHELLS) {
      const noUrl = await runImport(shell, {});
      assert.equal(noUrl.status, 2);
      assert.match(noUrl.stderr, /KIBANA_URL is not set/);
      assert.equal(noUrl.calls.length, 0);
      const noPw = await runImport(shell, { KIBANA_URL: 'http://127.0.0.1:9', KIBANA_USERNAME: USER });
      assert.equal(noPw.status, 2);
      assert.match(noPw.stderr, /neither KIBANA_PASSWORD nor KIBANA_PASSWORD_FILE/);
      const badWait = await runImport(shell, { KIBANA_URL: 'http://127.0.0.1:9', WAIT_SECONDS: '5m' });
      assert.equal(badWait.status, 2);
      assert.match(badWait.stderr, /WAIT_SECONDS must be a whole number/);
    }
  });

  // The checks above must be able to fail: run them against deliberately broken copies.
  const brokenCopy = (name, from, to) => {
    const text = fs.readFileSync(SCRIPT, 'utf8');
    assert.ok(text.includes(from), `import.sh no longer contains ${JSON.stringify(from)}`);
    const file = path.join(tmp, name);
    fs.writeFileSync(file, text.replace(from, to));
    return file;
  };

  test('a copy that passes the credentials on the command line is caught', async () => {
    const script = brokenCopy('import-argv.sh', `curl_config | curl -K - --silent`, `curl_config | curl -K - --user "$username:$password" --silent`);
    const k = await fakeKibana({ notReadyCount: 0 });
    try {
      const r = await runImport(SHELLS[0], { KIBANA_URL: k.url, KIBANA_USERNAME: USER, KIBANA_PASSWORD: PASSWORD, DASHBOARDS_DIR, WAIT_INTERVAL: '1' }, { script });
      assert.equal(r.status, 0, 'the import itself works');
      assert.throws(() => assertNoSecretsInArgv(r.calls), /a secret on curl's command line/);
    } finally {
      await k.close();
    }
  });

  test('a copy without the kbn-xsrf header or overwrite=true is refused by the fake Kibana', async () => {
    for (const [name, from, to, why] of [
      ['import-xsrf.sh', `--header 'kbn-xsrf: true'`, `--header 'x-other: true'`, /missing kbn-xsrf/],
      ['import-overwrite.sh', '_import?overwrite=true', '_import', /query/],
      ['import-field.sh', '"file=@$file', '"upload=@$file', /no multipart part named "file"/],
    ]) {
      const script = brokenCopy(name, from, to);
      const k = await fakeKibana({ notReadyCount: 0 });
      try {
        const r = await runImport(SHELLS[0], { KIBANA_URL: k.url, KIBANA_USERNAME: USER, KIBANA_PASSWORD: PASSWORD, DASHBOARDS_DIR, WAIT_INTERVAL: '1' }, { script });
        assert.equal(r.status, 1, `${name}: ${r.stderr}`);
        assert.ok(k.errors.some((e) => why.test(e)), `${name}: ${k.errors}`);
      } finally {
        await k.close();
      }
    }
  });

  test('is shellcheck-clean as POSIX sh', () => {
    execFileSync('shellcheck', ['-s', 'sh', SCRIPT], { stdio: 'pipe' });
  });
});
