import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iotcArgs, runOnce } from './runner.mjs';

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
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
