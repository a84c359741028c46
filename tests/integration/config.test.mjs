// Configuration: bad flags/values exit 2 with one line on stderr, --version, and IOT_COLLECTOR_*
// environment variables (flags win).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Collector, killAll, runCollector, makeTempDir } from './lib/collector.mjs';
import { RAW, json } from './lib/clients.mjs';
import { makeEvent, makeBatch, assertStored } from './lib/events.mjs';

const dirs = [];
const started = [];
after(async () => {
  for (const c of started) await c.kill();
  await killAll();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function validArgs() {
  const dir = makeTempDir();
  dirs.push(dir);
  return ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--sink', `file:${path.join(dir, 'events.ndjson')}`, '--log-format', 'json', '--threads', '2', '--instance', 'it-1'];
}

/** Replace the value of flag in args (or append flag value). */
function withFlag(args, flag, value) {
  const a = [...args];
  const i = a.indexOf(flag);
  if (i >= 0) a[i + 1] = value;
  else a.push(flag, value);
  return a;
}

function withoutFlag(args, flag) {
  const a = [...args];
  const i = a.indexOf(flag);
  if (i >= 0) a.splice(i, 2);
  return a;
}

async function expectUsageError(args, env = {}) {
  const r = await runCollector(args, { env, timeoutMs: 15_000 });
  assert.equal(r.status, 2, `expected exit status 2 for ${JSON.stringify(args)} ${JSON.stringify(env)}; got ${r.status}/${r.signal}\nstderr:\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected exactly one line on stderr, got ${lines.length}:\n${r.stderr}`);
  return r;
}

async function startAndPost(c, body) {
  started.push(c);
  const mark = c.sinkMark();
  const r = await RAW.send(c, { payload: json(body), contentFormat: 50 });
  return { r, pairs: c.sinkPairs(mark) };
}

describe('bad configuration exits 2 with one line on stderr', () => {
  for (const [label, mutate] of [
    ['--threads 0', (a) => withFlag(a, '--threads', '0')],
    ['--threads abc', (a) => withFlag(a, '--threads', 'abc')],
    ['--sink foo:bar', (a) => withFlag(a, '--sink', 'foo:bar')],
    ['--sink without a path', (a) => withFlag(a, '--sink', 'file:')],
    ['--listen nonsense', (a) => withFlag(a, '--listen', 'nonsense')],
    ['--listen with port 70000', (a) => withFlag(a, '--listen', '127.0.0.1:70000')],
    ['--admin-listen nonsense', (a) => withFlag(a, '--admin-listen', 'nonsense')],
    ['an unknown flag', (a) => [...a, '--no-such-flag', '1']],
    ['an unknown flag without value', (a) => [...a, '--bogus']],
    ['a positional argument', (a) => [...a, 'extra']],
    ['a flag missing its value', (a) => [...a, '--max-batch']],
    ['--max-batch 0', (a) => withFlag(a, '--max-batch', '0')],
    ['--max-batch -1', (a) => withFlag(a, '--max-batch', '-1')],
    ['--max-payload 0', (a) => withFlag(a, '--max-payload', '0')],
    ['--log-format xml', (a) => withFlag(a, '--log-format', 'xml')],
    ['--shutdown-timeout 0', (a) => withFlag(a, '--shutdown-timeout', '0')],
    ['--drain-delay abc', (a) => withFlag(a, '--drain-delay', 'abc')],
  ]) {
    it(label, async () => {
      await expectUsageError(mutate(validArgs()));
    });
  }

  it('a bad IOT_COLLECTOR_MAX_BATCH environment value', async () => {
    await expectUsageError(validArgs(), { IOT_COLLECTOR_MAX_BATCH: 'lots' });
  });

  it('IOT_COLLECTOR_MAX_BATCH=0', async () => {
    await expectUsageError(validArgs(), { IOT_COLLECTOR_MAX_BATCH: '0' });
  });

  it('a bad IOT_COLLECTOR_THREADS environment value', async () => {
    await expectUsageError(withoutFlag(validArgs(), '--threads'), { IOT_COLLECTOR_THREADS: '0' });
  });

  it('a bad IOT_COLLECTOR_SINK environment value', async () => {
    await expectUsageError(withoutFlag(validArgs(), '--sink'), { IOT_COLLECTOR_SINK: 'foo:bar' });
  });
});

describe('--version', () => {
  it('exits 0 and prints the version', async () => {
    const r = await runCollector(['--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /\d+\.\d+\.\d+/);
  });
});

describe('environment variables', () => {
  it('IOT_COLLECTOR_MAX_BATCH=2 limits batches', async () => {
    const c = await Collector.start({ env: { IOT_COLLECTOR_MAX_BATCH: '2' } });
    const over = await startAndPost(c, makeBatch(3));
    assert.equal(over.r.code, '4.00', `batch of 3 with IOT_COLLECTOR_MAX_BATCH=2: ${over.r.code} ${over.r.text}`);
    assert.equal(over.pairs.length, 0);
    const ok = makeBatch(2);
    const within = await startAndPost(c, ok);
    assert.equal(within.r.code, '2.01');
    assertStored(within.pairs, ok);
  });

  it('a flag wins over its environment variable', async () => {
    const c = await Collector.start({ args: ['--max-batch', '5'], env: { IOT_COLLECTOR_MAX_BATCH: '2' } });
    const batch = makeBatch(3);
    const { r, pairs } = await startAndPost(c, batch);
    assert.equal(r.code, '2.01', `batch of 3 with --max-batch 5 and IOT_COLLECTOR_MAX_BATCH=2: ${r.code} ${r.text}`);
    assertStored(pairs, batch);
  });

  it('every setting can come from the environment alone', async () => {
    const c = await Collector.start({
      standardFlags: false,
      env: (col) => ({
        IOT_COLLECTOR_LISTEN: '127.0.0.1:0',
        IOT_COLLECTOR_ADMIN_LISTEN: '127.0.0.1:0',
        IOT_COLLECTOR_SINK: `file:${col.sinkPath}`,
        IOT_COLLECTOR_LOG_FORMAT: 'json',
        IOT_COLLECTOR_THREADS: '1',
        IOT_COLLECTOR_INSTANCE: 'env-1',
        IOT_COLLECTOR_MAX_PAYLOAD: '300',
      }),
    });
    assert.equal(c.coap.host, '127.0.0.1');
    const e = makeEvent();
    const { r, pairs } = await startAndPost(c, e);
    assert.equal(r.code, '2.01', `${r.code} ${r.text}`);
    assertStored(pairs, [e], undefined, { collector: 'env-1' });
    const big = makeEvent({ payload: { type: 't', value: 'x'.repeat(300) } });
    const tooBig = await RAW.send(c, { payload: json(big), contentFormat: 50 });
    assert.equal(tooBig.code, '4.13');
    assert.equal(tooBig.size1, 300, 'Size1 = IOT_COLLECTOR_MAX_PAYLOAD');
  });

  it('--instance names the collector in every document', async () => {
    const c = await Collector.start({ instance: 'collector-b.2' });
    const e = makeEvent();
    const { r, pairs } = await startAndPost(c, e);
    assert.equal(r.code, '2.01');
    assertStored(pairs, [e], undefined, { collector: 'collector-b.2' });
  });
});
