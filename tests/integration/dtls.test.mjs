// Device authentication with DTLS-PSK (--psk-file), against libcoap's real DTLS client
// (coap-client-openssl): the identity becomes the sender, a body claiming another sender is 4.03,
// wrong keys and unknown identities get no session while a well-behaved device keeps 2.01, the
// key file is re-read on change and on SIGHUP (a bad file keeps the old keys), --require-dtls
// closes the plain port, and garbage or a flood of spoofed ClientHellos from new source ports
// costs no session and no other device's data. Also: over plain UDP no answer is larger than
// its request, except GET /health.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { Collector, killAll, makeTempDir, parseHostPort, runCollector, waitFor } from './lib/collector.mjs';
import { coapClient } from './lib/coapClient.mjs';
import { RawCoapClient, request as rawRequest } from './lib/coap.mjs';
import { scrape, metricValue } from './lib/admin.mjs';
import { makeEvent, without } from './lib/events.mjs';
import { iotc } from './lib/iotc.mjs';

const DTLS_CLIENT = process.env.IOT_IT_DTLS_CLIENT ?? 'coap-client-openssl';

// coap-client -k takes the key as text; the PSK file holds its bytes in hex or base64.
const KEYS = {
  'dev-1': 'dev-1-secret-key-0001',
  'dev-2': 'dev-2-secret-key-0002',
  'dev-3': 'dev-3-secret-key-0003',
};
const hex = (text) => Buffer.from(text).toString('hex');
const b64 = (text) => Buffer.from(text).toString('base64');

function writeKeys(file, lines) {
  // Written aside and renamed over: the collector never reads a half-written file.
  const aside = `${file}.tmp`;
  fs.writeFileSync(aside, `${lines.join('\n')}\n`);
  fs.renameSync(aside, file);
}

let dir;
let pskFile;
let c;
before(async () => {
  dir = makeTempDir();
  pskFile = path.join(dir, 'psk.txt');
  writeKeys(pskFile, ['# test devices', `dev-1 ${hex(KEYS['dev-1'])}`, `dev-2 base64:${b64(KEYS['dev-2'])}`]);
  c = await Collector.start({ args: ['--psk-file', pskFile, '--listen-dtls', '127.0.0.1:0'] });
  assert.equal(typeof c.ready.coaps, 'string', `ready line names the DTLS endpoint: ${JSON.stringify(c.ready)}`);
  c.coaps = parseHostPort(c.ready.coaps);
});
after(async () => {
  await c?.kill();
  await killAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** One DTLS exchange by libcoap's client: a new session each time. */
function dtls({ identity, key = KEYS[identity], method = 'post', path: resource = '/events', payload, waitSeconds = 5, collector = c }) {
  return coapClient({
    client: DTLS_CLIENT,
    uri: `coaps://${collector.coaps.host}:${collector.coaps.port}${resource}`,
    method,
    contentFormat: payload === undefined ? undefined : 50,
    payload: payload === undefined ? undefined : JSON.stringify(payload),
    waitSeconds,
    extraArgs: ['-u', identity, '-k', key],
  });
}

function storedSince(mark) {
  return c.sinkPairs(mark).map((p) => p.doc);
}

describe('authenticated devices', () => {
  it('the identity becomes the sender of an event that names none, and one that names itself', async () => {
    const mark = c.sinkMark();
    const anonymous = without(makeEvent(), 'sender');
    const named = makeEvent({ sender: 'dev-1' });
    assert.equal((await dtls({ identity: 'dev-1', payload: anonymous })).code, '2.01');
    assert.equal((await dtls({ identity: 'dev-1', payload: named })).code, '2.01');
    const docs = storedSince(mark);
    assert.deepEqual(docs.map((d) => [d.sender, d.origin]), [['dev-1', anonymous.origin], ['dev-1', named.origin]]);
  });

  it('a body sender other than the identity is 4.03 with a diagnostic, and nothing is stored', async () => {
    const mark = c.sinkMark();
    const r = await dtls({ identity: 'dev-2', payload: [makeEvent({ sender: 'dev-2' }), makeEvent({ sender: 'dev-1' })] });
    assert.equal(r.code, '4.03', r.stderr);
    assert.match(r.diagnostic, /^event\[1\]\.sender: must be this device's identity 'dev-2'/);
    assert.deepEqual(storedSince(mark), []);
  });

  it('GET /health answers over DTLS too', async () => {
    const r = await dtls({ identity: 'dev-2', method: 'get', path: '/health' });
    assert.equal(r.code, '2.05');
    assert.equal(JSON.parse(r.body.toString()).status, 'ok');
  });
});

describe('wrong keys and unknown identities', () => {
  it('get no session and store nothing, while a well-behaved device keeps 2.01', async () => {
    const mark = c.sinkMark();
    const before = await scrape(c);
    const good = Array.from({ length: 4 }, () => makeEvent({ sender: 'dev-1' }));
    const [stranger, thief, answers] = await Promise.all([
      dtls({ identity: 'nobody', key: 'nobody-secret-key-00', payload: makeEvent({ sender: 'nobody' }), waitSeconds: 3 }),
      dtls({ identity: 'dev-1', key: 'not-dev-1-s-key-0000', payload: makeEvent({ sender: 'dev-1' }), waitSeconds: 3 }),
      (async () => {
        const codes = [];
        for (const event of good) codes.push((await dtls({ identity: 'dev-1', payload: event })).code);
        return codes;
      })(),
    ]);
    assert.equal(stranger.code, null, `unknown identity got an answer: ${stranger.stdout}`);
    assert.equal(thief.code, null, `wrong key got an answer: ${thief.stdout}`);
    assert.deepEqual(answers, ['2.01', '2.01', '2.01', '2.01']);
    assert.deepEqual(storedSince(mark).map((d) => d.origin), good.map((e) => e.origin));
    const after = await scrape(c);
    const failed = (m) => metricValue(m.samples, 'iot_dtls_handshakes_total', { result: 'failed' });
    assert.ok(failed(after) > failed(before), `the unknown identity's handshake counts as failed:\n${after.body}`);
  });
});

describe('key file reloads', () => {
  it('a changed file applies without a signal; SIGHUP re-reads; a bad file keeps the previous keys', async () => {
    const reloads = () => c.logsWith('psk file reloaded').length;
    const failures = () => c.logsWith('psk file reload failed; keeping the previous keys').length;

    // dev-2 goes, dev-3 comes: noticed by the change check (at most a second or two).
    const seen = reloads();
    writeKeys(pskFile, [`dev-1 ${hex(KEYS['dev-1'])}`, `dev-3 ${hex(KEYS['dev-3'])}`]);
    await waitFor(() => reloads() > seen, { timeoutMs: 5000, what: 'the reload after the file changed' });
    assert.equal((await dtls({ identity: 'dev-3', payload: makeEvent({ sender: 'dev-3' }) })).code, '2.01');
    assert.equal((await dtls({ identity: 'dev-2', payload: makeEvent({ sender: 'dev-2' }), waitSeconds: 3 })).code, null);

    // A broken file: logged, old keys kept (a typo must not lock every device out).
    const failed = failures();
    fs.writeFileSync(pskFile, `dev-1 ${hex(KEYS['dev-1'])}\ndev-4 zz-not-a-key\n`);
    c.signal('SIGHUP');
    await waitFor(() => failures() > failed, { timeoutMs: 5000, what: 'the failed reload' });
    const failure = c.logsWith('psk file reload failed; keeping the previous keys').at(-1);
    assert.match(failure.error, /psk\.txt:2: key of 'dev-4': not hex/);
    assert.doesNotMatch(c.stderr, new RegExp(hex(KEYS['dev-1'])), 'a key never reaches the log');
    assert.equal((await dtls({ identity: 'dev-3', payload: makeEvent({ sender: 'dev-3' }) })).code, '2.01');
    assert.ok(c.running, 'SIGHUP does not stop the collector');

    // SIGHUP with the file fixed again.
    const before = reloads();
    writeKeys(pskFile, [`dev-1 ${hex(KEYS['dev-1'])}`, `dev-2 ${hex(KEYS['dev-2'])}`]);
    c.signal('SIGHUP');
    await waitFor(() => reloads() > before, { timeoutMs: 5000, what: 'the reload on SIGHUP' });
    assert.equal((await dtls({ identity: 'dev-2', payload: makeEvent({ sender: 'dev-2' }) })).code, '2.01');
  });
});

describe('hostile traffic', () => {
  it('garbage and spoofed ClientHellos from 200 new source ports cost no session and no data', async () => {
    const mark = c.sinkMark();
    const before = await scrape(c);
    const sockets = [];
    try {
      for (let i = 0; i < 200; i += 1) {
        const s = dgram.createSocket('udp4');
        s.on('error', () => {});
        s.bind(0, '127.0.0.1');
        sockets.push(s);
      }
      await Promise.all(sockets.map((s) => once(s, 'listening')));
      const clientHello = (i) => {
        // A minimal DTLS 1.2 ClientHello without a cookie (epoch 0): version, random, empty
        // session id and cookie, one PSK suite (TLS_PSK_WITH_AES_128_CCM_8), null compression.
        const hello = Buffer.concat([
          Buffer.from([0xfe, 0xfd]),
          Buffer.alloc(32, i & 0xff),
          Buffer.from([0, 0, 0, 2, 0xc0, 0xa8, 1, 0]),
        ]);
        const length = (n) => Buffer.from([0, n >> 8, n & 0xff]);
        const handshake = Buffer.concat([Buffer.from([1]), length(hello.length), Buffer.from([0, 0]), length(0), length(hello.length), hello]);
        const record = Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, handshake.length >> 8, handshake.length & 0xff]);
        return Buffer.concat([record, handshake]);
      };
      const garbage = [Buffer.alloc(0), Buffer.from([0x40]), Buffer.from('not coap at all'), Buffer.alloc(1400, 0xff)];
      const flood = sockets.map((s, i) =>
        Promise.all([
          new Promise((r) => s.send(clientHello(i), c.coaps.port, c.coaps.host, r)),
          new Promise((r) => s.send(garbage[i % garbage.length], c.coaps.port, c.coaps.host, r)),
          new Promise((r) => s.send(garbage[i % garbage.length], c.coap.port, c.coap.host, r)),
        ]),
      );
      const good = [makeEvent({ sender: 'dev-1' }), makeEvent({ sender: 'dev-1' })];
      const [, first, second] = await Promise.all([
        Promise.all(flood),
        dtls({ identity: 'dev-1', payload: good[0] }),
        dtls({ identity: 'dev-1', payload: good[1] }),
      ]);
      assert.equal(first.code, '2.01');
      assert.equal(second.code, '2.01');
      assert.deepEqual(storedSince(mark).map((d) => d.origin).sort(), good.map((e) => e.origin).sort());
    } finally {
      for (const s of sockets) s.close();
    }
    const after = await scrape(c);
    const value = (m, name, labels) => metricValue(m.samples, name, labels);
    assert.ok(
      value(after, 'iot_dtls_hello_verify_requests_total') - value(before, 'iot_dtls_hello_verify_requests_total') >= 200,
      `every spoofed ClientHello got only a cookie:\n${after.body}`,
    );
    // The two good devices' sessions may still be open; none of the 200 spoofers has one.
    assert.ok(value(after, 'iot_dtls_sessions') <= 2, `no session for spoofers:\n${after.body}`);
    assert.ok(c.running);
  });
});

describe('iotc ends its sessions', () => {
  it('a load run over DTLS leaves no session behind in the collector', async () => {
    // Without close_notify each of the run's devices would hold a place in the session table
    // (where the real devices idle the longest are evicted first) until --dtls-idle-timeout.
    const value = (m, name) => metricValue(m.samples, name);
    const before = await scrape(c);
    const r = await iotc(['load', '--host', c.coaps.host, '--port', String(c.coaps.port), '--psk-identity', 'dev-1', '--psk-key', hex(KEYS['dev-1']), '--devices', '4', '--count', '20', '--rate', '200', '--report', 'json']);
    const report = JSON.parse(r.stdout);
    assert.equal(report.answered, 20, r.stderr);
    assert.equal(report.handshakes.established, 4);
    let after;
    await waitFor(
      async () => {
        after = await scrape(c);
        return value(after, 'iot_dtls_sessions_closed_total') - value(before, 'iot_dtls_sessions_closed_total') >= 4;
      },
      { timeoutMs: 5000, what: 'the collector closing the 4 sessions iotc ended' },
    );
    assert.ok(value(after, 'iot_dtls_sessions') <= value(before, 'iot_dtls_sessions'), after.body);
  });
});

describe('iotc load --handshake-first', () => {
  it('makes every handshake before the clock starts, and no request waits for one', async () => {
    const r = await iotc(['load', '--host', c.coaps.host, '--port', String(c.coaps.port), '--psk-identity', 'dev-1', '--psk-key', hex(KEYS['dev-1']), '--devices', '6', '--count', '30', '--rate', '300', '--handshake-first', '--report', 'json']);
    const report = JSON.parse(r.stdout);
    assert.equal(report.answered, 30, r.stderr);
    assert.equal(report.responses['2.01'], 30);
    const h = report.handshakes;
    assert.deepEqual([h.started, h.established, h.failed], [6, 6, 0], 'one handshake per device, none again in the run');
    assert.ok(h.before_run_seconds > 0, `the handshakes came before the run: ${JSON.stringify(h)}`);
    assert.ok(h.rate_per_second > 0);
  });
});

describe('no amplification over plain UDP', () => {
  it('an answer is never larger than its request, except GET /health', async () => {
    const device = await RawCoapClient.open();
    try {
      for (const req of [
        rawRequest({ method: 'GET', path: '/' }),
        rawRequest({ method: 'GET', path: '/x' }),
        rawRequest({ method: 'POST', path: '/events', contentFormat: 50, payload: '{' }),
        rawRequest({ method: 'POST', path: '/events', contentFormat: 60, payload: '{}' }),
        rawRequest({ method: 'DELETE', path: '/events' }),
      ]) {
        const answer = await device.exchange(req, c.coap.port, c.coap.host);
        assert.ok(answer.codeString.startsWith('4.'), answer.codeString);
        assert.ok(answer.raw.length <= req.length, `${answer.codeString}: ${answer.raw.length} bytes answer ${req.length}`);
      }
      // With room, the diagnostic is whole.
      const roomy = rawRequest({ method: 'GET', path: '/no-such-resource-with-a-long-enough-name-here' });
      const notFound = await device.exchange(roomy, c.coap.port, c.coap.host);
      assert.equal(notFound.payload.toString(), 'no such resource; use /events or /health');
      const health = rawRequest({ method: 'GET', path: '/health' });
      const answer = await device.exchange(health, c.coap.port, c.coap.host);
      assert.equal(answer.codeString, '2.05');
      assert.ok(answer.raw.length > health.length, 'GET /health is exempt: its JSON stays whole');
      assert.equal(JSON.parse(answer.payload.toString()).status, 'ok');
    } finally {
      device.close();
    }
  });
});

describe('--require-dtls', () => {
  it('opens only the DTLS endpoint', async () => {
    const probe = dgram.createSocket('udp4');
    probe.bind(0, '127.0.0.1');
    await once(probe, 'listening');
    const plainPort = probe.address().port;
    probe.close();
    const only = await Collector.start({
      listen: `127.0.0.1:${plainPort}`,
      args: ['--psk-file', pskFile, '--listen-dtls', '127.0.0.1:0', '--require-dtls'],
    });
    try {
      assert.equal(only.ready.coap, only.ready.coaps, `the first endpoint is the DTLS one: ${JSON.stringify(only.ready)}`);
      only.coaps = parseHostPort(only.ready.coaps);
      // Nothing holds the plain port: binding it succeeds.
      const holder = dgram.createSocket({ type: 'udp4' });
      holder.bind(plainPort, '127.0.0.1');
      await once(holder, 'listening');
      holder.close();
      assert.equal((await dtls({ identity: 'dev-1', method: 'get', path: '/health', collector: only })).code, '2.05');
    } finally {
      await only.kill();
    }
  });
});

describe('bad DTLS configuration', () => {
  it('a bad --psk-file stops the start with its file and line, never the key', async () => {
    const bad = path.join(dir, 'bad-psk.txt');
    fs.writeFileSync(bad, `dev-1 ${hex(KEYS['dev-1'])}\ndev-2 ${hex('short')}\n`);
    const r = await runCollector(['--psk-file', bad, '--listen', '127.0.0.1:0', '--listen-dtls', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /bad-psk\.txt:2: key of 'dev-2': 5 bytes; 16\.\.64 required/);
    assert.doesNotMatch(r.stderr, new RegExp(hex(KEYS['dev-1'])));
  });

  it('DTLS flags without --psk-file are usage errors', async () => {
    for (const flag of [['--require-dtls'], ['--listen-dtls', '127.0.0.1:5684']]) {
      const r = await runCollector(flag);
      assert.equal(r.status, 2, `${flag}: ${r.stderr}`);
      assert.match(r.stderr, /needs --psk-file/);
    }
  });
});
