// POST /events: accepted events and batches, and exactly what the file sink holds afterwards.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Collector, killAll } from './lib/collector.mjs';
import { CLIENTS, RAW, json } from './lib/clients.mjs';
import { makeEvent, makeBatch, without, assertStored, assertStoredPair, nested } from './lib/events.mjs';

let c;
before(async () => {
  c = await Collector.start();
});
after(async () => {
  await c?.kill();
  await killAll();
});

/** Post body with a client; assert 2.01 with an empty payload; return the pairs stored meanwhile. */
async function postCreated(client, body, extra = {}) {
  const mark = c.sinkMark();
  const from = Date.now();
  const r = await client.send(c, { method: 'POST', path: '/events', payload: typeof body === 'string' ? body : json(body), contentFormat: 50, ...extra });
  const to = Date.now();
  assert.equal(r.code, '2.01', `${client.name}: expected 2.01 Created, got ${r.code} ${r.text}`);
  assert.equal(r.text, '', `${client.name}: 2.01 must have an empty payload`);
  // The write happens before the 2.01 is sent: no waiting here.
  return { pairs: c.sinkPairs(mark), window: { from, to }, answer: r };
}

describe('a single event is stored and answered 2.01 Created', () => {
  for (const client of [...CLIENTS, RAW]) {
    it(`with ${client.name}`, async () => {
      const e = makeEvent();
      const { pairs, window } = await postCreated(client, e);
      assertStored(pairs, [e], window);
    });
  }

  it('a CON request gets a piggybacked ACK with the same message id', async () => {
    const e = makeEvent();
    const mark = c.sinkMark();
    const r = await RAW.send(c, { payload: json(e), contentFormat: 50, messageId: 0x4242 });
    assert.equal(r.code, '2.01');
    assert.equal(r.type, 'ACK');
    assert.equal(r.raw.messageId, 0x4242);
    assertStored(c.sinkPairs(mark), [e]);
  });
});

describe('event fields', () => {
  it('namespace defaults to "default"', async () => {
    const e = without(makeEvent(), 'namespace');
    const { pairs, window } = await postCreated(RAW, e);
    assert.equal(pairs.length, 1);
    assert.equal(pairs[0].doc.namespace, 'default');
    assertStoredPair(pairs[0], e, window);
  });

  it('a custom namespace and identifiers using every allowed character class are kept', async () => {
    const e = makeEvent({ namespace: 'plant-7.hall_A:z', origin: 'Probe.1_x:y-Z' });
    const { pairs, window } = await postCreated(RAW, e);
    assertStored(pairs, [e], window);
  });

  it('identifiers of exactly 128 characters are accepted', async () => {
    const long = 'a'.repeat(128);
    const e = makeEvent({ namespace: long, origin: long });
    e.sender = `${e.sender}-`.padEnd(128, 'b');
    const { pairs, window } = await postCreated(RAW, e);
    assertStored(pairs, [e], window);
  });

  for (const [label, value] of [
    ['a float', 21.5],
    ['an integer', -40],
    ['a string', 'open'],
    ['true', true],
    ['false', false],
    ['an object', { x: 1, y: [1, 2, 3], z: { s: 'ok', b: false, n: null } }],
    ['an object nested 3 levels', nested(3)],
  ]) {
    it(`payload.value may be ${label}`, async () => {
      const e = makeEvent({ payload: { type: 'reading', value } });
      const { pairs, window } = await postCreated(RAW, e);
      assertStored(pairs, [e], window);
    });
  }
});

describe('timestamps and @timestamp', () => {
  for (const [label, timestamp, expected] of [
    ['RFC 3339 UTC with milliseconds', '2026-11-22T10:00:00.000Z', '2026-11-22T10:00:00.000Z'],
    ['RFC 3339 with a +02:00 offset', '2026-11-22T12:00:00+02:00', '2026-11-22T10:00:00.000Z'],
    ['RFC 3339 with a -05:30 offset and no fraction', '2026-11-22T04:30:00-05:30', '2026-11-22T10:00:00.000Z'],
    ['RFC 3339 with microseconds', '2026-11-22T10:00:00.123456Z', '2026-11-22T10:00:00.123Z'],
    ['epoch milliseconds', 1700000000000, '2023-11-14T22:13:20.000Z'],
    ['epoch milliseconds with sub-second part', 1700000000123, '2023-11-14T22:13:20.123Z'],
  ]) {
    it(`${label}: ${JSON.stringify(timestamp)} -> ${expected}`, async () => {
      const e = makeEvent({ timestamp });
      const { pairs, window } = await postCreated(RAW, e);
      assert.equal(pairs.length, 1);
      assert.equal(pairs[0].doc['@timestamp'], expected);
      assertStoredPair(pairs[0], e, window);
    });
  }

  it('without a timestamp: no "timestamp" field, @timestamp is the receive time', async () => {
    const e = without(makeEvent(), 'timestamp');
    const { pairs, window } = await postCreated(RAW, e);
    assert.equal(pairs.length, 1);
    assert.ok(!('timestamp' in pairs[0].doc), pairs[0].docLine);
    assertStoredPair(pairs[0], e, window);
  });

  it('a timestamp 1 h in the future is accepted (only > 24 h is rejected)', async () => {
    const ts = new Date(Date.now() + 3600_000);
    ts.setUTCMilliseconds(0);
    const e = makeEvent({ timestamp: ts.toISOString() });
    const { pairs, window } = await postCreated(RAW, e);
    assertStored(pairs, [e], window);
  });
});

describe('batches', () => {
  it('a batch that fills an Ethernet frame (just under 1472 bytes) without Block1: 2.01 and every document with a distinct _id', async () => {
    const batch = makeBatch(8);
    const datagramOverhead = 4 + 8 /* token */ + 7 /* Uri-Path events */ + 2 /* Content-Format */ + 1 /* marker */;
    batch[7].payload.value = '';
    batch[7].payload.value = 'v'.repeat(1471 - datagramOverhead - json(batch).length);
    assert.ok(json(batch).length + datagramOverhead <= 1471);
    const { pairs, window } = await postCreated(RAW, batch);
    assertStored(pairs, batch, window);
  });

  it('a batch of ~1.9 KB in one datagram (beyond an Ethernet frame, within --max-payload): 2.01 without Block1', async () => {
    const batch = makeBatch(12);
    assert.ok(json(batch).length > 1472);
    const { pairs, window } = await postCreated(RAW, batch);
    assertStored(pairs, batch, window);
  });

  it('a batch of 10 with coap-client-notls', async () => {
    const batch = makeBatch(10);
    const { pairs, window } = await postCreated(CLIENTS[0], batch);
    assertStored(pairs, batch, window);
  });

  it('a batch of 10 with npm coap (Block1, 256-byte blocks)', async () => {
    const batch = makeBatch(10);
    const { pairs, window } = await postCreated(CLIENTS[1], batch, { block1Szx: 4 });
    assertStored(pairs, batch, window);
  });

  it('a batch of one event', async () => {
    const batch = makeBatch(1);
    const { pairs, window } = await postCreated(RAW, batch);
    assertStored(pairs, batch, window);
  });

  it('a batch of exactly --max-batch (default 100) events is accepted', async () => {
    const batch = makeBatch(100, { payload: { type: 't', value: 1 } });
    const { pairs, window } = await postCreated(CLIENTS[0], batch);
    assertStored(pairs, batch, window);
  });

  it('events that differ in one field only have distinct _id', async () => {
    const base = makeEvent({ timestamp: '2026-11-20T08:00:00.000Z' });
    const variants = [
      base,
      { ...base, namespace: 'other' },
      { ...base, origin: 'probe2' },
      { ...base, timestamp: '2026-11-20T08:00:00.001Z' },
      { ...base, payload: { type: 'temperature', value: 21.6 } },
      { ...base, payload: { type: 'humidity', value: 21.5 } },
      { ...base, sender: `${base.sender}x` },
    ];
    const mark = c.sinkMark();
    for (const e of variants) {
      const r = await RAW.send(c, { payload: json(e), contentFormat: 50 });
      assert.equal(r.code, '2.01');
    }
    const pairs = c.sinkPairs(mark);
    assert.equal(pairs.length, variants.length);
    pairs.forEach((p, i) => assertStoredPair(p, variants[i]));
    const ids = new Set(pairs.map((p) => p.action.create._id));
    assert.equal(ids.size, variants.length, `distinct events must have distinct _id: ${pairs.map((p) => p.action.create._id).join(' ')}`);
  });
});

describe('sink file format', () => {
  it('is a sequence of valid bulk pairs with distinct _id', () => {
    const pairs = c.sinkPairs();
    assert.ok(pairs.length > 0);
    const idOf = new Map(); // event identity -> _id
    for (const p of pairs) {
      assert.deepEqual(Object.keys(p.action), ['create'], p.actionLine);
      assert.equal(p.action.create._index, 'iot-events');
      assert.match(p.action.create._id, /^[0-9a-f]{32}$/);
      assert.equal(p.doc.collector, 'it-1');
      const identity = JSON.stringify([p.doc.namespace, p.doc.sender, p.doc.origin, p.doc['@timestamp'], p.doc.payload]);
      idOf.set(identity, p.action.create._id);
    }
    const ids = [...idOf.values()];
    assert.equal(new Set(ids).size, ids.length, 'distinct events (by namespace, sender, origin, time, payload) must have distinct _id');
  });
});
