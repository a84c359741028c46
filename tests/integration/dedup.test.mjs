// Message layer over raw UDP: CON retransmissions are answered again but stored once, NON
// requests get NON answers, and garbage datagrams do not hurt the server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Collector, killAll } from './lib/collector.mjs';
import { CLIENTS, RAW, json } from './lib/clients.mjs';
import { RawCoapClient, request, encode, Type, describe as describeMsg } from './lib/coap.mjs';
import { makeEvent, makeBatch, assertStored } from './lib/events.mjs';

let c;
before(async () => {
  c = await Collector.start();
});
after(async () => {
  await c?.kill();
  await killAll();
});

async function withRaw(fn) {
  const client = await RawCoapClient.open(c.coap.host);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

async function assertStillAccepting() {
  assert.ok(c.running, `collector died: ${JSON.stringify(c.exited)}\n${c.stderr}`);
  const e = makeEvent();
  const mark = c.sinkMark();
  const r = await RAW.send(c, { payload: json(e), contentFormat: 50 });
  assert.equal(r.code, '2.01', `a valid request afterwards: ${r.code} ${r.text}`);
  assertStored(c.sinkPairs(mark), [e]);
}

describe('confirmable retransmissions', () => {
  it('the identical CON datagram sent twice: two ACKs 2.01 with the same message id, one stored event', async () => {
    await withRaw(async (client) => {
      const e = makeEvent();
      const dgram = request({ type: Type.CON, method: 'POST', path: '/events', contentFormat: 50, messageId: 0x7a11, token: Buffer.from('d0d0cafe', 'hex'), payload: json(e) });
      const mark = c.sinkMark();
      await client.send(dgram, c.coap.port, c.coap.host);
      const first = await client.next((m) => m.type === Type.ACK && m.messageId === 0x7a11);
      await client.send(dgram, c.coap.port, c.coap.host);
      const second = await client.next((m) => m.type === Type.ACK && m.messageId === 0x7a11);
      for (const [n, m] of [['first', first], ['second', second]]) {
        assert.equal(m.codeString, '2.01', `${n} ACK: ${JSON.stringify(describeMsg(m))}`);
        assert.equal(m.messageId, 0x7a11);
        assert.equal(m.token.toString('hex'), 'd0d0cafe', `${n} ACK token`);
      }
      assertStored(c.sinkPairs(mark), [e]);
    });
  });

  it('a retransmitted batch is stored once', async () => {
    await withRaw(async (client) => {
      const batch = makeBatch(3);
      const dgram = request({ type: Type.CON, method: 'POST', path: '/events', contentFormat: 50, messageId: 0x0b0b, token: Buffer.from('0b', 'hex'), payload: json(batch) });
      const mark = c.sinkMark();
      for (let i = 0; i < 3; i++) {
        await client.send(dgram, c.coap.port, c.coap.host);
        const m = await client.next((x) => x.type === Type.ACK && x.messageId === 0x0b0b);
        assert.equal(m.codeString, '2.01', `answer ${i + 1}: ${JSON.stringify(describeMsg(m))}`);
      }
      assertStored(c.sinkPairs(mark), batch);
    });
  });

  it('a retransmission of a rejected request gets the same 4.00 and stores nothing', async () => {
    await withRaw(async (client) => {
      const dgram = request({ type: Type.CON, method: 'POST', path: '/events', contentFormat: 50, messageId: 0x0bad, token: Buffer.from('bad0', 'hex'), payload: '{"oops":' });
      const mark = c.sinkMark();
      for (let i = 0; i < 2; i++) {
        await client.send(dgram, c.coap.port, c.coap.host);
        const m = await client.next((x) => x.type === Type.ACK && x.messageId === 0x0bad);
        assert.equal(m.codeString, '4.00', `answer ${i + 1}: ${JSON.stringify(describeMsg(m))}`);
      }
      assert.equal(c.sinkPairs(mark).length, 0);
    });
  });

  it('the duplicate sent back-to-back (before the first answer) is answered 2.01 too and stored once', async () => {
    await withRaw(async (client) => {
      const e = makeEvent();
      const dgram = request({ type: Type.CON, method: 'POST', path: '/events', contentFormat: 50, messageId: 0x5151, token: Buffer.from('5151', 'hex'), payload: json(e) });
      const mark = c.sinkMark();
      await client.send(dgram, c.coap.port, c.coap.host);
      await client.send(dgram, c.coap.port, c.coap.host);
      const a = await client.next((m) => m.type === Type.ACK && m.messageId === 0x5151);
      const b = await client.next((m) => m.type === Type.ACK && m.messageId === 0x5151);
      assert.equal(a.codeString, '2.01', JSON.stringify(describeMsg(a)));
      assert.equal(b.codeString, '2.01', JSON.stringify(describeMsg(b)));
      assertStored(c.sinkPairs(mark), [e]);
    });
  });

});

describe('non-confirmable requests', () => {
  it('raw NON POST: stored, answered with a NON 2.01 carrying the token', async () => {
    await withRaw(async (client) => {
      const e = makeEvent();
      const mark = c.sinkMark();
      const dgram = request({ type: Type.NON, method: 'POST', path: '/events', contentFormat: 50, messageId: 0x3003, token: Buffer.from('00ff00ff', 'hex'), payload: json(e) });
      const res = await client.exchange(dgram, c.coap.port, c.coap.host);
      assert.equal(res.type, Type.NON, `response type must be NON (1): ${JSON.stringify(describeMsg(res))}`);
      assert.equal(res.codeString, '2.01');
      assert.equal(res.token.toString('hex'), '00ff00ff');
      assertStored(c.sinkPairs(mark), [e]);
    });
  });

  it('raw NON with a schema error: NON 4.00', async () => {
    await withRaw(async (client) => {
      const mark = c.sinkMark();
      const dgram = request({ type: Type.NON, method: 'POST', path: '/events', contentFormat: 50, payload: json({ sender: 'x' }) });
      const res = await client.exchange(dgram, c.coap.port, c.coap.host);
      assert.equal(res.type, Type.NON, JSON.stringify(describeMsg(res)));
      assert.equal(res.codeString, '4.00');
      assert.equal(c.sinkPairs(mark).length, 0);
    });
  });

  for (const client of CLIENTS) {
    it(`NON POST with ${client.name}: NON 2.01 and stored`, async () => {
      const e = makeEvent();
      const mark = c.sinkMark();
      const r = await client.send(c, { method: 'POST', path: '/events', payload: json(e), contentFormat: 50, confirmable: false });
      assert.equal(r.code, '2.01', `${r.code} ${r.text}`);
      assert.equal(r.type, 'NON');
      assertStored(c.sinkPairs(mark), [e]);
    });
  }

  it('GET /health as NON: NON 2.05', async () => {
    const r = await RAW.send(c, { method: 'GET', path: '/health', confirmable: false });
    assert.equal(r.code, '2.05');
    assert.equal(r.type, 'NON');
  });
});

describe('garbage does not crash the collector', () => {
  it('random datagrams', async () => {
    await withRaw(async (client) => {
      for (let i = 0; i < 50; i++) {
        await client.send(crypto.randomBytes(1 + (i * 37) % 300), c.coap.port, c.coap.host);
      }
    });
    await assertStillAccepting();
  });

  it('truncated CoAP headers, bad token lengths, bad options, an empty datagram', async () => {
    const valid = request({ method: 'POST', path: '/events', contentFormat: 50, payload: json(makeEvent()) });
    const bad = [
      Buffer.alloc(0),
      Buffer.from([0x40]),
      Buffer.from([0x40, 0x02]),
      Buffer.from([0x40, 0x02, 0x12]),
      Buffer.from([0x48, 0x02, 0x12, 0x34, 0x01]), // TKL 8, only 1 token byte
      Buffer.from([0x49, 0x02, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8, 9]), // TKL 9 (reserved)
      Buffer.from([0x80, 0x02, 0x12, 0x34]), // version 2
      Buffer.from([0x40, 0x02, 0x12, 0x34, 0xff]), // payload marker, no payload
      Buffer.from([0x40, 0x02, 0x12, 0x34, 0xf0]), // reserved option delta 15
      Buffer.from([0x40, 0x02, 0x12, 0x34, 0xbd]), // Uri-Path with 1-byte extended length missing
      Buffer.from([0x40, 0x02, 0x12, 0x34, 0xb5, 0x65, 0x76]), // option length overruns
      Buffer.from([0x40, 0x02, 0x12, 0x34, 0xde, 0xff, 0xff, 0x01]), // huge option number
      valid.subarray(0, valid.length - 10), // cut JSON (a well-formed message with bad JSON)
      valid.subarray(0, 7), // cut inside the options
      Buffer.from([0x60, 0x41, 0x12, 0x34]), // an unsolicited ACK 2.01
      Buffer.from([0x70, 0x00, 0x12, 0x34]), // an RST
      encode({ type: Type.CON, code: 0, messageId: 0x9999 }), // CoAP ping
      encode({ type: Type.CON, code: '7.31', messageId: 0x9998 }), // signalling-class code
      encode({ type: Type.CON, code: '0.31', messageId: 0x9997, options: [{ number: 11, value: 'events' }] }), // unknown method
    ];
    await withRaw(async (client) => {
      for (const b of bad) await client.send(b, c.coap.port, c.coap.host);
    });
    await assertStillAccepting();
  });
});
