// Every rejection: 4.00 (malformed JSON, schema, batches), 4.15, 4.13, 4.05, 4.04 — each with a
// short diagnostic — and nothing rejected ever reaches the sink. Also GET /health 2.05.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Collector, killAll } from './lib/collector.mjs';
import { CLIENTS, RAW, json } from './lib/clients.mjs';
import { makeEvent, makeBatch, without, nested, assertStored } from './lib/events.mjs';

const MAX_BATCH = 5;
const MAX_PAYLOAD = 1000;

let c;
before(async () => {
  c = await Collector.start({ args: ['--max-batch', String(MAX_BATCH), '--max-payload', String(MAX_PAYLOAD)] });
});
after(async () => {
  await c?.kill();
  await killAll();
});

/** A diagnostic is short, non-empty, printable text. */
function assertDiagnostic(r, label) {
  assert.ok(r.text.length > 0, `${label}: ${r.code} must carry a diagnostic payload`);
  assert.ok(r.text.length <= 512, `${label}: diagnostic should be short, got ${r.text.length} bytes`);
  assert.doesNotMatch(r.text, /[\x00-\x08\x0e-\x1f]/, `${label}: diagnostic must be text`);
  if (r.contentFormat !== undefined) assert.equal(r.contentFormat, 0, `${label}: diagnostic Content-Format must be text/plain (0)`);
}

/**
 * Send, expect `code` with a diagnostic, then prove nothing was stored: a valid marker event
 * posted afterwards must be the only new document.
 */
async function expectRejected(client, request, code, label) {
  const mark = c.sinkMark();
  const r = await client.send(c, { method: 'POST', path: '/events', ...request });
  assert.equal(r.code, code, `${label} via ${client.name}: expected ${code}, got ${r.code} ${JSON.stringify(r.text)}`);
  assertDiagnostic(r, `${label} via ${client.name}`);
  const marker = makeEvent();
  const ok = await RAW.send(c, { payload: json(marker), contentFormat: 50 });
  assert.equal(ok.code, '2.01', `marker event after ${label}: ${ok.code} ${ok.text}`);
  assertStored(c.sinkPairs(mark), [marker]);
  return r;
}

describe('4.00 Bad Request: malformed JSON', () => {
  for (const client of [...CLIENTS, RAW]) {
    it(`truncated JSON with ${client.name}`, async () => {
      await expectRejected(client, { payload: '{"sender":"dev-1","origin":', contentFormat: 50 }, '4.00', 'truncated JSON');
    });
  }
  for (const [label, payload] of [
    ['not JSON at all', 'hello world'],
    ['trailing garbage', `${json(makeEvent())} x`],
    ['two objects', `${json(makeEvent())}${json(makeEvent())}`],
    ['invalid UTF-8', Buffer.concat([Buffer.from('{"sender":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])],
    ['a JSON number', '42'],
    ['a JSON string', '"event"'],
    ['null', 'null'],
    ['an empty body', undefined],
  ]) {
    it(label, async () => {
      await expectRejected(RAW, { payload, contentFormat: 50 }, '4.00', label);
    });
  }
});

describe('4.00 Bad Request: schema violations', () => {
  const long = 'x'.repeat(129);
  const cases = [
    ['missing sender', without(makeEvent(), 'sender')],
    ['missing origin', without(makeEvent(), 'origin')],
    ['missing payload', without(makeEvent(), 'payload')],
    ['missing payload.type', makeEvent({ payload: { value: 1 } })],
    ['missing payload.value', makeEvent({ payload: { type: 'temperature' } })],
    ['sender is a number', makeEvent({ sender: 42 })],
    ['origin is null', makeEvent({ origin: null })],
    ['payload.type is a number', makeEvent({ payload: { type: 7, value: 1 } })],
    ['payload is a string', makeEvent({ payload: 'temperature=21.5' })],
    ['payload.value is null', makeEvent({ payload: { type: 't', value: null } })],
    ['payload.value is an array', makeEvent({ payload: { type: 't', value: [1, 2] } })],
    ['empty sender', makeEvent({ sender: '' })],
    ['sender with a space', makeEvent({ sender: 'dev 42' })],
    ['sender with a slash', makeEvent({ sender: 'dev/42' })],
    ['sender with non-ASCII', makeEvent({ sender: 'dév-42' })],
    ['sender of 129 characters', makeEvent({ sender: long })],
    ['origin of 129 characters', makeEvent({ origin: long })],
    ['namespace of 129 characters', makeEvent({ namespace: long })],
    ['empty namespace', makeEvent({ namespace: '' })],
    ['namespace with a star', makeEvent({ namespace: 'a*b' })],
    ['namespace is a number', makeEvent({ namespace: 1 })],
    ['payload.type with a space', makeEvent({ payload: { type: 'air temp', value: 1 } })],
    ['unknown top-level field', makeEvent({ extra: 1 })],
    ['unknown top-level field "id"', makeEvent({ id: 'abc' })],
    ['nesting 20 levels deep', makeEvent({ payload: { type: 't', value: nested(20) } })],
    ['an empty object', {}],
  ];
  for (const [label, body] of cases) {
    it(label, async () => {
      await expectRejected(RAW, { payload: json(body), contentFormat: 50 }, '4.00', label);
    });
  }
  for (const client of CLIENTS) {
    it(`missing sender with ${client.name}`, async () => {
      await expectRejected(client, { payload: json(without(makeEvent(), 'sender')), contentFormat: 50 }, '4.00', 'missing sender');
    });
  }
});

describe('4.00 Bad Request: timestamps', () => {
  const future = (ms) => new Date(Date.now() + ms).toISOString();
  for (const [label, timestamp] of [
    ['25 h in the future (RFC 3339)', future(25 * 3600_000)],
    ['25 h in the future (epoch ms)', Date.now() + 25 * 3600_000],
    ['a year in the future', future(366 * 24 * 3600_000)],
    ['RFC 3339 without a zone', '2026-11-22T10:00:00'],
    ['a date only', '2026-11-22'],
    ['not a date', 'yesterday'],
    ['month 13', '2026-13-22T10:00:00Z'],
    ['epoch ms as a float', 1700000000000.5],
    ['epoch as a numeric string', '1700000000000'],
    ['a boolean', true],
  ]) {
    it(label, async () => {
      await expectRejected(RAW, { payload: json(makeEvent({ timestamp })), contentFormat: 50 }, '4.00', label);
    });
  }
});

describe('4.00 Bad Request: batches (all-or-nothing)', () => {
  it('one bad event in the middle of a batch rejects the whole batch, naming its index', async () => {
    const batch = makeBatch(3);
    delete batch[1].sender;
    for (const client of [...CLIENTS, RAW]) {
      const r = await expectRejected(client, { payload: json(batch), contentFormat: 50 }, '4.00', 'batch with a bad event[1]');
      assert.match(r.text, /event\[1\]/, `${client.name}: diagnostic must name event[1]: ${JSON.stringify(r.text)}`);
    }
  });

  it('a bad timestamp in the last event names its index', async () => {
    const batch = makeBatch(4);
    batch[3].timestamp = 'not-a-time';
    const r = await expectRejected(RAW, { payload: json(batch), contentFormat: 50 }, '4.00', 'batch with a bad event[3]');
    assert.match(r.text, /event\[3\]/, `diagnostic must name event[3]: ${JSON.stringify(r.text)}`);
  });

  it('a non-object element rejects the batch', async () => {
    const batch = [makeEvent(), 5, makeEvent()];
    const r = await expectRejected(RAW, { payload: json(batch), contentFormat: 50 }, '4.00', 'batch with a number at [1]');
    assert.match(r.text, /event\[1\]/, `diagnostic must name event[1]: ${JSON.stringify(r.text)}`);
  });

  it('an empty array is rejected', async () => {
    await expectRejected(RAW, { payload: '[]', contentFormat: 50 }, '4.00', 'empty batch');
  });

  it(`a batch of --max-batch + 1 (${MAX_BATCH + 1}) events is rejected`, async () => {
    const batch = makeBatch(MAX_BATCH + 1, { payload: { type: 't', value: 1 }, namespace: undefined, timestamp: undefined }).map((e) => without(e, 'namespace', 'timestamp'));
    for (const client of [...CLIENTS, RAW]) {
      await expectRejected(client, { payload: json(batch), contentFormat: 50 }, '4.00', 'batch over --max-batch');
    }
  });

  it(`a batch of exactly --max-batch (${MAX_BATCH}) events is accepted`, async () => {
    const batch = makeBatch(MAX_BATCH, { payload: { type: 't', value: 1 } }).map((e) => without(e, 'namespace', 'timestamp'));
    const mark = c.sinkMark();
    const r = await RAW.send(c, { payload: json(batch), contentFormat: 50 });
    assert.equal(r.code, '2.01', `${r.code} ${r.text}`);
    assertStored(c.sinkPairs(mark), batch);
  });
});

describe('4.15 Unsupported Content-Format', () => {
  for (const client of [...CLIENTS, RAW]) {
    it(`no Content-Format with ${client.name}`, async () => {
      await expectRejected(client, { payload: json(makeEvent()) }, '4.15', 'missing Content-Format');
    });
    it(`text/plain with ${client.name}`, async () => {
      await expectRejected(client, { payload: json(makeEvent()), contentFormat: 0 }, '4.15', 'text/plain');
    });
  }
  it('application/cbor (60)', async () => {
    await expectRejected(RAW, { payload: Buffer.from([0xa0]), contentFormat: 60 }, '4.15', 'cbor');
  });
  it('application/octet-stream (42)', async () => {
    await expectRejected(RAW, { payload: json(makeEvent()), contentFormat: 42 }, '4.15', 'octet-stream');
  });
});

describe('4.13 Request Entity Too Large (single datagram)', () => {
  for (const client of [...CLIENTS, RAW]) {
    it(`a body of --max-payload + 1 bytes gets 4.13 with Size1 = ${MAX_PAYLOAD} via ${client.name}`, async () => {
      const e = makeEvent();
      e.payload.value = '';
      const filler = MAX_PAYLOAD + 1 - json(e).length;
      e.payload.value = 'v'.repeat(filler);
      const body = json(e);
      assert.equal(body.length, MAX_PAYLOAD + 1);
      const r = await expectRejected(client, { payload: body, contentFormat: 50 }, '4.13', 'body over --max-payload');
      assert.equal(r.size1, MAX_PAYLOAD, `Size1 must be the limit: ${JSON.stringify(r.describe ?? r.raw?.last ?? r.raw?.options)}`);
    });
  }

  for (const size of [2000, 9000]) {
    // 9000 bytes is more than the collector reads of one datagram (--max-payload + 1024): it is
    // cut short, and must still be answered 4.13, not parsed.
    it(`a ${size}-byte body in one datagram gets 4.13 with Size1`, async () => {
      const e = makeEvent({ payload: { type: 't', value: 'v'.repeat(size - 150) } });
      const body = json(e);
      assert.ok(body.length > size - 100 && body.length < size + 100);
      const r = await expectRejected(RAW, { payload: body, contentFormat: 50 }, '4.13', `a ${size}-byte datagram over --max-payload`);
      assert.equal(r.size1, MAX_PAYLOAD, `Size1 must be the limit: ${JSON.stringify(r.describe)}`);
    });
  }

  it(`a body of exactly --max-payload bytes is accepted`, async () => {
    const e = makeEvent();
    e.payload.value = '';
    e.payload.value = 'v'.repeat(MAX_PAYLOAD - json(e).length);
    const body = json(e);
    assert.equal(body.length, MAX_PAYLOAD);
    const mark = c.sinkMark();
    const r = await RAW.send(c, { payload: body, contentFormat: 50 });
    assert.equal(r.code, '2.01', `${r.code} ${r.text}`);
    assertStored(c.sinkPairs(mark), [e]);
  });
});

describe('4.05 Method Not Allowed', () => {
  for (const client of [...CLIENTS, RAW]) {
    for (const [method, path] of [
      ['GET', '/events'],
      ['PUT', '/events'],
      ['DELETE', '/events'],
      ['POST', '/health'],
      ['DELETE', '/health'],
    ]) {
      it(`${method} ${path} with ${client.name}`, async () => {
        const withBody = method === 'PUT' || method === 'POST';
        await expectRejected(
          client,
          { method, path, payload: withBody ? json(makeEvent()) : undefined, contentFormat: withBody ? 50 : undefined },
          '4.05',
          `${method} ${path}`,
        );
      });
    }
  }
});

describe('4.04 Not Found', () => {
  for (const client of [...CLIENTS, RAW]) {
    for (const [method, path] of [
      ['POST', '/nope'],
      ['GET', '/nothing-here'],
      ['POST', '/events/extra'],
      ['GET', '/healthz'],
    ]) {
      it(`${method} ${path} with ${client.name}`, async () => {
        const withBody = method === 'POST';
        await expectRejected(
          client,
          { method, path, payload: withBody ? json(makeEvent()) : undefined, contentFormat: withBody ? 50 : undefined },
          '4.04',
          `${method} ${path}`,
        );
      });
    }
  }
});

describe('GET /health', () => {
  for (const client of [...CLIENTS, RAW]) {
    it(`2.05 Content with application/json {"status":"ok"} via ${client.name}`, async () => {
      const r = await client.send(c, { method: 'GET', path: '/health' });
      assert.equal(r.code, '2.05', `${r.code} ${r.text}`);
      assert.equal(r.contentFormat, 50, 'Content-Format must be application/json (50)');
      let body;
      assert.doesNotThrow(() => (body = JSON.parse(r.text)), `body must be JSON: ${r.text}`);
      assert.equal(body.status, 'ok');
    });
  }
});
