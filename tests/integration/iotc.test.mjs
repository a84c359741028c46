// iotc's device commands (health, send, incremental, simulate) end to end: against the real
// collector (checking what it stored), and against independent CoAP servers (the npm `coap`
// server, libcoap's coap-server-notls) so iotc's CoAP is not only tested against our own code.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Collector, killAll } from './lib/collector.mjs';
import { iotc, target, startNpmServer, startLibcoapServer } from './lib/iotc.mjs';

let c;
before(async () => {
  c = await Collector.start();
});
after(async () => {
  await killAll();
});

/** Documents the collector stored since `mark`, by sender. */
function storedBy(sender, mark = 0) {
  return c.sinkPairs(mark).map((p) => p.doc).filter((d) => d.sender === sender);
}

describe('iotc health', () => {
  it('2.05 from the collector: exit 0, prints the answer', async () => {
    const r = await iotc(['health', ...target(c)]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^2\.05 Content/);
    assert.match(r.stdout, /"status":"ok"/);
  });

  it('4.04 from libcoap coap-server-notls (no /health there): exit 1', async () => {
    const server = await startLibcoapServer();
    try {
      const r = await iotc(['health', '--host', '127.0.0.1', '--port', String(server.port)]);
      assert.equal(r.status, 1);
      assert.match(r.stdout, /^4\.04 Not Found/);
    } finally {
      server.kill();
    }
  });
});

describe('iotc send', () => {
  it('stores the event the collector acknowledged, with the device timestamp, and prints both', async () => {
    const mark = c.sinkMark();
    const r = await iotc(['send', 'temperature', '21.5', '--unit', 'C', '--sender', 'send-1', '--origin', 'probe', '--namespace', 'lab', '--timestamp', '2026-11-23T10:00:00.123Z', ...target(c)]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^2\.01 Created {2}\{/);
    const [doc] = storedBy('send-1', mark);
    assert.ok(doc, 'the event is in the sink');
    assert.deepEqual(doc.payload, { type: 'temperature', value: 21.5, unit: 'C' });
    assert.equal(doc.namespace, 'lab');
    assert.equal(doc.origin, 'probe');
    assert.equal(doc.timestamp, '2026-11-23T10:00:00.123Z');
  });

  it('text and boolean values; --silent prints nothing; flags may come before the command', async () => {
    const mark = c.sinkMark();
    const a = await iotc([...target(c), '--sender', 'send-2', 'send', 'door', 'open', '--silent']);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(a.stdout, '');
    const b = await iotc(['send', 'alarm', 'false', '--sender', 'send-2', ...target(c)]);
    assert.equal(b.status, 0, b.stderr);
    assert.deepEqual(storedBy('send-2', mark).map((d) => d.payload.value), ['open', false]);
  });

  it('a separate response from the npm coap server (after an empty ACK) is awaited; the request is a JSON POST /events', async () => {
    const s = await startNpmServer({ delayMs: 300 });
    try {
      const r = await iotc(['send', 'humidity', '40', '--host', '127.0.0.1', '--port', String(s.port), '--sender', 'npm-1']);
      assert.equal(r.status, 0, `${r.stdout} ${r.stderr}`);
      assert.match(r.stdout, /^2\.01/);
      assert.equal(s.requests.length, 1, 'one request, no retransmission (the empty ACK stopped it)');
      const [req] = s.requests;
      assert.equal(req.method, 'POST');
      assert.equal(req.url, '/events');
      assert.equal(req.contentFormat, 'application/json');
      assert.equal(req.type, 'CON');
      assert.equal(JSON.parse(req.body).sender, 'npm-1');
    } finally {
      await s.close();
    }
  });

  it('an error answer exits 1 and shows the diagnostic; bad usage exits 2', async () => {
    const s = await startNpmServer({ code: '5.03' });
    try {
      const r = await iotc(['send', 'x', '1', '--host', '127.0.0.1', '--port', String(s.port)]);
      assert.equal(r.status, 1);
      assert.match(r.stdout, /^5\.03 Service Unavailable/);
    } finally {
      await s.close();
    }
    for (const args of [['send', 'temperature'], ['send', 'a', 'b', 'c'], ['send', 'a', '1', '--port', '0'], ['send', 'a', '1', '--sender', 'bad sender'], ['nope'], ['load', '--rate', '5', '--concurrency', '2'], ['load', '--max-error-rate', 'lots'], ['load', '--duration', 'forever']]) {
      const r = await iotc(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^iotc/);
    }
  });

  it('--help on every command, --version', async () => {
    for (const command of ['health', 'send', 'incremental', 'simulate', 'load', 'verify', 'probe']) {
      const r = await iotc([command, '--help']);
      assert.equal(r.status, 0);
      assert.match(r.stdout, new RegExp(`^Usage: iotc ${command}`));
    }
    const v = await iotc(['--version']);
    assert.match(v.stdout, /^iotc \d+\.\d+\.\d+/);
  });
});

describe('iotc incremental', () => {
  it('multiplies by the factor each step and clamps to --max', async () => {
    const mark = c.sinkMark();
    const r = await iotc(['incremental', 'power', '10', '-n', '4', '-p', '0', '-f', '2', '--max', '50', '--sender', 'inc-1', ...target(c)]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 4, 'one line per event');
    assert.deepEqual(storedBy('inc-1', mark).map((d) => d.payload.value), [10, 20, 40, 50]);
  });

  it('against the npm coap server: the same series, one CON POST /events per step', async () => {
    const s = await startNpmServer();
    try {
      const r = await iotc(['incremental', 'level', '1', '-n', '3', '-p', '0', '-f', '3', '--host', '127.0.0.1', '--port', String(s.port)]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(s.requests.map((q) => [q.url, q.type, JSON.parse(q.body).payload.value]), [['/events', 'CON', 1], ['/events', 'CON', 3], ['/events', 'CON', 9]]);
    } finally {
      await s.close();
    }
  });
});

describe('iotc simulate', () => {
  it('energy meters: every device its own sender, energy never decreases, timestamps set by the devices', async () => {
    const mark = c.sinkMark();
    const r = await iotc(['simulate', '--devices', '5', '--period', '0.4', '--duration', '2', '--profile', 'energy-meter', '--sender', 'meter', ...target(c)], { timeoutMs: 20_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const docs = c.sinkPairs(mark).map((p) => p.doc).filter((d) => d.sender.startsWith('meter-'));
    const senders = new Set(docs.map((d) => d.sender));
    assert.equal(senders.size, 5, `senders: ${[...senders]}`);
    for (const sender of senders) {
      const energy = docs.filter((d) => d.sender === sender && d.payload.type === 'energy');
      assert.ok(energy.length >= 3, `${sender}: ${energy.length} energy readings`);
      for (let i = 1; i < energy.length; i++) assert.ok(energy[i].payload.value >= energy[i - 1].payload.value, `${sender}: energy went down`);
      assert.ok(energy.every((d) => typeof d.timestamp === 'string'), 'the device set the timestamp');
    }
    assert.ok(docs.some((d) => d.payload.type === 'power'));
  });

  it('every device is its own UDP source port', async () => {
    const s = await startNpmServer();
    try {
      const r = await iotc(['simulate', '--devices', '4', '--period', '0.2', '--duration', '1', '--profile', 'door', '--host', '127.0.0.1', '--port', String(s.port)], { timeoutMs: 20_000 });
      assert.equal(r.status, 0, r.stderr);
      const portsBySender = new Map();
      for (const req of s.requests) {
        const body = JSON.parse(req.body);
        const sender = (Array.isArray(body) ? body[0] : body).sender;
        portsBySender.set(sender, new Set([...(portsBySender.get(sender) ?? []), req.rsinfo.port]));
      }
      assert.equal(portsBySender.size, 4);
      const ports = [...portsBySender.values()].map((set) => [...set]);
      assert.ok(ports.every((p) => p.length === 1), 'a device keeps its port');
      assert.equal(new Set(ports.flat()).size, 4, 'devices do not share ports');
    } finally {
      await s.close();
    }
  });
});

// The container image has no curl: its health checks are `iotc probe` on the admin port.
describe('iotc probe', () => {
  /** An HTTP server on 127.0.0.1 that answers every request with `status`, or never answers. */
  async function httpServer(status) {
    const server = http.createServer((req, res) => {
      if (status !== undefined) res.writeHead(status).end('not ready\n');
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.closeAllConnections() || server.close() };
  }

  it("exit 0 on the collector's /readyz 200, exit 1 on 404", async () => {
    const ready = await iotc(['probe', c.adminUrl('/readyz')]);
    assert.equal(ready.status, 0, ready.stderr);
    assert.match(ready.stdout, /HTTP 200/);
    const missing = await iotc(['probe', c.adminUrl('/no-such-path')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /HTTP 404/);
  });

  it('exit 1 on 503, on a closed port and on a server that never answers (within --timeout-ms)', async () => {
    const unavailable = await httpServer(503);
    const silent = await httpServer(undefined);
    try {
      const r503 = await iotc(['probe', `${unavailable.url}/readyz`]);
      assert.equal(r503.status, 1);
      assert.match(r503.stderr, /HTTP 503 not ready/);
      const started = Date.now();
      const rSilent = await iotc(['probe', '--timeout-ms', '300', `${silent.url}/readyz`], { timeoutMs: 10_000 });
      assert.equal(rSilent.status, 1);
      assert.match(rSilent.stderr, /timeout/);
      assert.ok(Date.now() - started < 5000, 'the deadline bounds the probe');
    } finally {
      unavailable.close();
      silent.close();
    }
    const closed = await iotc(['probe', silent.url + '/readyz']);
    assert.equal(closed.status, 1);
    assert.match(closed.stderr, /refused/);
  });

  it('a URL without an explicit port is a usage error (exit 2), not a probe of port 9200', async () => {
    const r = await iotc(['probe', 'http://127.0.0.1/readyz']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /host:port/);
  });
});
