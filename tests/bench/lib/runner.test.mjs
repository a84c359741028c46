import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tally, iotcArgs, runOnce, runSweep } from './runner.mjs';

test('iotcArgs: the load as flags, then the server\'s own flags, passed through unchanged', () => {
  const base = iotcArgs(5683, { concurrency: 64, devices: 1 }, 1.5, '/tmp/out.json');
  assert.deepEqual(base.slice(0, 5), ['load', '--host', '127.0.0.1', '--port', '5683']);
  assert.ok(base.includes('--concurrency') && !base.includes('--rate'));
  // No extra flags and an empty list are the same run: every server but the DTLS ones.
  assert.deepEqual(iotcArgs(5683, { concurrency: 64, devices: 1 }, 1.5, '/tmp/out.json', []), base);
  const extra = ['--psk-identity', 'bench', '--psk-key', '00112233445566778899aabbccddeeff'];
  const withExtra = iotcArgs(5683, { concurrency: 64, devices: 1 }, 1.5, '/tmp/out.json', extra);
  assert.deepEqual(withExtra, [...base, ...extra], 'appended after the load flags, in order');
  // After the optional load flags too, whatever the load.
  const open = iotcArgs(5684, { rate: 10000, devices: 16, non: true, spread: 'addresses' }, 3, '/tmp/o.json', ['--x', 'y']);
  assert.deepEqual(open.slice(-7), ['--rate', '10000', '--non', '--spread', 'addresses', '--x', 'y']);
});

test('runOnce hands the server object\'s iotcArgs to iotc', async () => {
  // A stand-in for iotc: records its arguments and writes a minimal report where --output says.
  const tmp = mkdtempSync(join(tmpdir(), 'iot-bench-runner-test-'));
  try {
    const argsFile = join(tmp, 'args');
    const fake = join(tmp, 'iotc');
    writeFileSync(
      fake,
      `#!/bin/sh
out=
for a in "$@"; do
  if [ "$prev" = --output ]; then out=$a; fi
  prev=$a
  printf '%s\\n' "$a" >> '${argsFile}'
done
printf '%s' '{"throughput_per_second":10,"ok_responses":10,"duration_seconds":1,"requests_sent":10,"answered":10,"latency_ms":{"p50":1,"p99":2,"p99_9":3},"timeouts":0,"retransmissions":0,"handshakes":{"started":3,"established":2}}' > "$out"
`,
      { mode: 0o755 },
    );
    const cfg = { tmp, cpus: { iotc: null }, bins: { iotc: fake } };
    const server = { name: 'fake', port: 5684, pid: process.pid, esPid: null, proc: { running: true }, iotcArgs: ['--psk-identity', 'bench', '--psk-key', 'abcd'] };
    const run = await runOnce(cfg, server, { concurrency: 4, devices: 2 }, 0.1);
    const args = readFileSync(argsFile, 'utf8').trim().split('\n');
    assert.deepEqual(args.slice(-4), server.iotcArgs);
    assert.equal(args[args.indexOf('--port') + 1], '5684');
    assert.equal(run.okResponses, 10);
    assert.equal(run.handshakesIncomplete, 1);
    // The peak RSS of the server's process (here this one), read right after the run.
    assert.ok(run.serverPeakRss > 0, `serverPeakRss ${run.serverPeakRss}`);
    assert.equal(run.esPeakRss, null);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

// A clean run as runOnce returns it, with the fields summarise reads.
const run = (eventsPerS, { serverPeakRss = 1000, okFraction = 1, p99 = 1 } = {}) => ({ eventsPerS, serverPeakRss, esPeakRss: null, okFraction, p99, drops: 1, timeouts: 0, retransmissions: 0, handshakesIncomplete: null });
const cell = (id) => ({ id, load: {} });

test('Tally: a cell\'s runs from every round, summarised together, cells in the order they first ran', () => {
  const tally = new Tally();
  // Round 1: ack then collector-file; round 2 the same, each cell once.
  tally.add('ack', cell('1dev-con'), { run: run(300, { serverPeakRss: 5000 }) });
  tally.add('collector-file', cell('1dev-con'), { run: run(100), discarded: [run(1)] });
  tally.add('collector-file', cell('batch10'), { run: run(500) });
  tally.add('ack', cell('1dev-con'), { run: run(200, { serverPeakRss: 7000 }) });
  tally.add('collector-file', cell('1dev-con'), { run: run(120) });
  tally.add('collector-file', cell('batch10'), { run: run(700) });
  tally.add('ack', cell('1dev-con'), { run: run(250, { serverPeakRss: 6000 }) });
  const results = tally.results();
  assert.deepEqual(results.map((r) => [r.server, r.cell, r.runs.length]), [['ack', '1dev-con', 3], ['collector-file', '1dev-con', 2], ['collector-file', 'batch10', 2]]);
  const [ack, file, batch] = results;
  assert.equal(ack.eventsPerS, 250, 'median over the rounds');
  assert.equal(ack.peakRss, 7000, 'the highest peak of the rounds\' processes, not the last');
  assert.equal(ack.drops, 3, 'counters summed over the rounds');
  assert.equal(file.eventsPerS, 110);
  assert.equal(file.discarded.length, 1);
  assert.equal(batch.eventsPerS, 600);
  assert.ok(results.every((r) => r.refused === null));
});

test('Tally: a cell refused in one round stays refused and keeps the runs it had', () => {
  const tally = new Tally();
  tally.add('collector-file', cell('1dev-con'), { run: run(100) });
  assert.equal(tally.refused('collector-file', '1dev-con'), null);
  tally.add('collector-file', cell('1dev-con'), { run: null, discarded: [run(1), run(2), run(3)], refused: 'too noisy' });
  assert.equal(tally.refused('collector-file', '1dev-con'), 'too noisy');
  assert.equal(tally.refused('ack', '1dev-con'), null, 'per server');
  // A later round that ran it anyway would not undo the refusal.
  tally.add('collector-file', cell('1dev-con'), { run: run(90) });
  const [r] = tally.results();
  assert.equal(r.refused, 'too noisy');
  assert.equal(r.eventsPerS, undefined, 'no figures');
  assert.equal(r.runs.length, 2);
  assert.equal(r.discarded.length, 3);
});

test('runSweep: the first round stops at the first rate the server cannot keep up with; later rounds run exactly those rates', async () => {
  const rates = [10, 20, 30, 40];
  const sweep = async (decided, outcomes) => {
    const asked = [];
    const ran = await runSweep(rates, decided, async (rate) => (asked.push(rate), outcomes[rate] ?? { run: run(rate) }));
    assert.deepEqual(ran, asked, 'returns the rates it ran');
    return ran;
  };
  // Keeps up at 10 and 20; at 30 it answered 95 %: the sweep stops there, 30 included.
  const decided = await sweep(null, { 30: { run: run(30, { okFraction: 0.95 }) } });
  assert.deepEqual(decided, [10, 20, 30]);
  // A p99 above 100 ms stops it too, and so does a refusal.
  assert.deepEqual(await sweep(null, { 20: { run: run(20, { p99: 150 }) } }), [10, 20]);
  assert.deepEqual(await sweep(null, { 10: { run: null, refused: 'noisy' } }), [10]);
  // A later round: the decided rates whatever their outcomes now, and none beyond.
  assert.deepEqual(await sweep(decided, { 10: { run: run(10, { okFraction: 0.5 }) }, 20: { run: null, refused: 'noisy' } }), [10, 20, 30]);
  // Keeping up everywhere: every rate.
  assert.deepEqual(await sweep(null, {}), rates);
});
