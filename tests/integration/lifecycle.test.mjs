// Life cycle: SIGTERM/SIGINT drain (readyz 503, 5.03 + Max-Age, exit 0, "stopped", nothing lost)
// and a prompt exit without drain delay.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Collector, killAll, waitFor } from './lib/collector.mjs';
import { RAW, CLIENTS, json } from './lib/clients.mjs';
import { httpGet } from './lib/admin.mjs';
import { makeEvent, makeBatch, assertStored } from './lib/events.mjs';

const started = [];
after(async () => {
  for (const c of started) await c.kill();
  await killAll();
});

async function start(args) {
  const c = await Collector.start({ args });
  started.push(c);
  return c;
}

/** Post a few events and return them (all answered 2.01). */
async function postSome(c) {
  const sent = [];
  for (const body of [makeEvent(), makeBatch(3), makeEvent()]) {
    const r = await RAW.send(c, { payload: json(body), contentFormat: 50 });
    assert.equal(r.code, '2.01', `${r.code} ${r.text}`);
    sent.push(...(Array.isArray(body) ? body : [body]));
  }
  const viaCli = makeEvent();
  const r = await CLIENTS[0].send(c, { payload: json(viaCli), contentFormat: 50 });
  assert.equal(r.code, '2.01');
  sent.push(viaCli);
  return sent;
}

function drainTest(signal) {
  return async () => {
    const c = await start(['--drain-delay', '3', '--shutdown-timeout', '10']);
    const sent = await postSome(c);
    assert.equal((await httpGet(c.adminUrl('/readyz'))).status, 200);

    const t0 = Date.now();
    c.signal(signal);

    // /readyz turns 503 while draining.
    await waitFor(async () => (await httpGet(c.adminUrl('/readyz'), { timeoutMs: 1000 })).status === 503, {
      timeoutMs: 2500,
      what: `/readyz to answer 503 after ${signal}`,
    });
    assert.ok(c.running, `the collector must still run during the drain delay (exited ${JSON.stringify(c.exited)} after ${Date.now() - t0} ms)`);

    // New events are refused with 5.03 Service Unavailable and a Max-Age (option 14).
    const refused = makeEvent();
    const raw = await RAW.send(c, { payload: json(refused), contentFormat: 50 });
    assert.equal(raw.code, '5.03', `POST while draining (raw): ${JSON.stringify(raw.describe)}`);
    assert.ok(raw.hasMaxAge, `5.03 must carry Max-Age (option 14): ${JSON.stringify(raw.describe)}`);
    const npm = await CLIENTS[1].send(c, { payload: json(refused), contentFormat: 50 });
    assert.equal(npm.code, '5.03', 'POST while draining (npm coap)');
    assert.ok(npm.maxAge !== undefined, '5.03 must carry Max-Age (npm coap)');
    assert.ok(c.running, 'still running while answering 5.03');

    // Then it exits 0 by itself, after the drain delay and within the shutdown timeout.
    const exit = await c.waitExit(3000 + 10_000 + 5000);
    const elapsed = Date.now() - t0;
    assert.deepEqual(exit, { status: 0, signal: null }, `exit after ${signal}; stderr:\n${c.stderr}`);
    assert.ok(elapsed >= 2500, `exited ${elapsed} ms after ${signal}, before the 3 s drain delay`);
    assert.ok(c.logs.some((l) => l.msg === 'stopped'), `no "stopped" log line:\n${c.stderr}`);
    for (const l of c.logs) assert.ok(!l.unparsable, `stderr line is not JSON: ${l.unparsable}`);

    // Everything that got 2.01 is in the file; the refused event is not.
    assertStored(c.sinkPairs(), sent);
  };
}

describe('graceful shutdown', () => {
  it('SIGTERM with --drain-delay 3: readyz 503, POST 5.03 + Max-Age, exit 0, "stopped", nothing lost', drainTest('SIGTERM'));
  it('SIGINT behaves the same', drainTest('SIGINT'));

  it('SIGTERM without a drain delay exits 0 promptly with every accepted event stored', async () => {
    const c = await start([]);
    const sent = await postSome(c);
    const t0 = Date.now();
    c.signal('SIGTERM');
    const exit = await c.waitExit(10_000);
    const elapsed = Date.now() - t0;
    assert.deepEqual(exit, { status: 0, signal: null }, `stderr:\n${c.stderr}`);
    assert.ok(elapsed < 3000, `SIGTERM without drain delay took ${elapsed} ms`);
    assert.ok(c.logs.some((l) => l.msg === 'stopped'), `no "stopped" log line:\n${c.stderr}`);
    assertStored(c.sinkPairs(), sent);
  });

  it('every stderr line is a JSON log object with ts, level and msg', async () => {
    const c = await start([]);
    await postSome(c);
    c.signal('SIGTERM');
    await c.waitExit(10_000);
    assert.ok(c.logs.length >= 2);
    for (const l of c.logs) {
      assert.ok(!l.unparsable, `stderr line is not JSON: ${l.unparsable}`);
      assert.equal(typeof l.ts, 'string', JSON.stringify(l));
      assert.equal(typeof l.level, 'string', JSON.stringify(l));
      assert.equal(typeof l.msg, 'string', JSON.stringify(l));
    }
    assert.equal(c.stdout, '', 'nothing on stdout');
  });
});
