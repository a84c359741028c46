// Block1 (RFC 7959) uploads to /events: reassembly, 2.31 Continue, and the --max-payload limit
// (4.13 with Size1) both on accumulated data and on an announced Size1.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Collector, killAll } from './lib/collector.mjs';
import { CLIENTS, RAW, json } from './lib/clients.mjs';
import { coapClient, dumpOption } from './lib/coapClient.mjs';
import { RawCoapClient, request, encodeBlock, decodeBlock, Option, Type, describe as describeMsg, randomToken } from './lib/coap.mjs';
import { makeEvent, assertStored } from './lib/events.mjs';

const MAX_PAYLOAD = 4096;

let c;
before(async () => {
  c = await Collector.start({ args: ['--max-payload', String(MAX_PAYLOAD), '--max-batch', '100'] });
});
after(async () => {
  await c?.kill();
  await killAll();
});

/** A JSON array of events whose serialisation is between min and max bytes. */
function batchOfSize(min, max) {
  const events = [];
  while (json(events).length < min) events.push(makeEvent());
  const body = json(events);
  assert.ok(body.length <= max, `test bug: ${body.length} > ${max}`);
  return { events, body };
}

/** Upload body in Block1 blocks of `size` over raw UDP; returns every answer, in order. */
async function rawBlockUpload(body, size, { size1, stopOnFinal = true } = {}) {
  const client = await RawCoapClient.open(c.coap.host);
  try {
    const token = randomToken(4);
    const buf = Buffer.from(body);
    const answers = [];
    const blocks = Math.ceil(buf.length / size);
    for (let num = 0; num < blocks; num++) {
      const more = num < blocks - 1;
      const options = [{ number: Option.BLOCK1, value: encodeBlock({ num, more, size }) }];
      if (num === 0 && size1 !== undefined) options.push({ number: Option.SIZE1, value: size1 });
      const msg = request({ method: 'POST', path: '/events', contentFormat: 50, token, messageId: (0x1000 + num) & 0xffff, options, payload: buf.subarray(num * size, (num + 1) * size) });
      const res = await client.exchange(msg, c.coap.port, c.coap.host);
      answers.push({ num, more, res });
      if (res.codeString !== '2.31' && stopOnFinal) break;
    }
    return { answers, blocks };
  } finally {
    client.close();
  }
}

describe('Block1 upload within the limit', () => {
  it('coap-client-notls -b 64 with a ~2 KB array: 2.01, all events stored', async () => {
    const { events, body } = batchOfSize(1800, 2400);
    const mark = c.sinkMark();
    const from = Date.now();
    const r = await coapClient({ uri: c.coapUri('/events'), method: 'post', contentFormat: 'json', payload: body, block: 64 });
    assert.equal(r.code, '2.01', `expected 2.01, got ${r.code}; stderr: ${r.stderr}\nstdout: ${r.stdout}`);
    assertStored(c.sinkPairs(mark), events, { from, to: Date.now() });
  });

  it('npm coap with 64-byte blocks: 2.01, all events stored', async () => {
    const { events, body } = batchOfSize(1500, 2400);
    const mark = c.sinkMark();
    const r = await CLIENTS[1].send(c, { payload: body, contentFormat: 50, block1Szx: 2 });
    assert.equal(r.code, '2.01', `${r.code} ${r.text}`);
    assertStored(c.sinkPairs(mark), events);
  });

  it('raw UDP, 64-byte blocks: every non-final block gets 2.31 Continue, the final one 2.01', async () => {
    const { events, body } = batchOfSize(1000, 2000);
    const mark = c.sinkMark();
    const { answers, blocks } = await rawBlockUpload(body, 64, { stopOnFinal: false });
    assert.equal(answers.length, blocks);
    for (const { num, more, res } of answers) {
      const expected = more ? '2.31' : '2.01';
      assert.equal(res.codeString, expected, `block ${num}/${blocks - 1}: ${JSON.stringify(describeMsg(res))}`);
      assert.equal(res.type, Type.ACK, `block ${num}: piggybacked ACK`);
      if (more) {
        const b1 = res.option(Option.BLOCK1);
        assert.ok(b1, `2.31 for block ${num} must echo Block1: ${JSON.stringify(describeMsg(res))}`);
        const blk = decodeBlock(b1);
        assert.equal(blk.num, num, `2.31 Block1 num for block ${num}`);
        assert.ok(blk.size <= 64, 'Block1 size in 2.31');
      }
    }
    assertStored(c.sinkPairs(mark), events);
  });

  it('raw UDP with an honest Size1 within the limit: 2.01', async () => {
    const { events, body } = batchOfSize(1000, 2000);
    const mark = c.sinkMark();
    const { answers } = await rawBlockUpload(body, 256, { size1: Buffer.byteLength(body) });
    assert.equal(answers.at(-1).res.codeString, '2.01', JSON.stringify(answers.map((a) => describeMsg(a.res))));
    assertStored(c.sinkPairs(mark), events);
  });

  it(`a Block1 upload of exactly --max-payload (${MAX_PAYLOAD}) bytes is accepted`, async () => {
    const e = makeEvent();
    e.payload.value = '';
    e.payload.value = 'w'.repeat(MAX_PAYLOAD - json(e).length);
    const body = json(e);
    assert.equal(body.length, MAX_PAYLOAD);
    const mark = c.sinkMark();
    const { answers } = await rawBlockUpload(body, 512);
    assert.equal(answers.at(-1).res.codeString, '2.01', JSON.stringify(answers.map((a) => describeMsg(a.res))));
    assertStored(c.sinkPairs(mark), [e]);
  });
});

describe('Block1 upload over the limit', () => {
  it('coap-client-notls -b 64 with a ~5 KB array: 4.13 with Size1 = limit, nothing stored', async () => {
    const { body } = batchOfSize(5000, 6000);
    const mark = c.sinkMark();
    const r = await coapClient({ uri: c.coapUri('/events'), method: 'post', contentFormat: 'json', payload: body, block: 64 });
    assert.equal(r.code, '4.13', `expected 4.13, got ${r.code}; stderr: ${r.stderr}\nstdout: ${r.stdout}`);
    assert.equal(dumpOption(r.last, 'Size1'), String(MAX_PAYLOAD), `Size1 in ${JSON.stringify(r.last)}`);
    assert.ok((r.diagnostic ?? '').length > 0, '4.13 must carry a diagnostic');
    assertNothingStoredSince(mark);
    await assertStillAccepting();
  });

  it('npm coap with 64-byte blocks and a ~5 KB array: 4.13 with Size1 = limit, nothing stored', async () => {
    const { body } = batchOfSize(5000, 6000);
    const mark = c.sinkMark();
    const r = await CLIENTS[1].send(c, { payload: body, contentFormat: 50, block1Szx: 2 });
    assert.equal(r.code, '4.13', `${r.code} ${r.text}`);
    assert.equal(r.size1, MAX_PAYLOAD, 'Size1 = --max-payload');
    assert.ok(r.text.length > 0, '4.13 must carry a diagnostic');
    assertNothingStoredSince(mark);
    await assertStillAccepting();
  });

  it('raw UDP without Size1: 2.31 up to the limit, 4.13 on the first block that would exceed it', async () => {
    const size = 64;
    const { body } = batchOfSize(5000, 6000);
    const mark = c.sinkMark();
    const { answers } = await rawBlockUpload(body, size);
    const firstOver = Math.floor(MAX_PAYLOAD / size); // block 64 would bring the total to 4160 > 4096
    for (const { num, res } of answers.slice(0, -1)) {
      assert.equal(res.codeString, '2.31', `block ${num}: ${JSON.stringify(describeMsg(res))}`);
    }
    const last = answers.at(-1);
    assert.equal(last.res.codeString, '4.13', `answers: ${answers.map((a) => `${a.num}:${a.res.codeString}`).join(' ')}`);
    assert.equal(last.num, firstOver, `4.13 must come on block ${firstOver}, came on ${last.num}`);
    assert.equal(last.res.uintOption(Option.SIZE1), MAX_PAYLOAD, `Size1: ${JSON.stringify(describeMsg(last.res))}`);
    assert.ok(last.res.payload.length > 0, '4.13 must carry a diagnostic');
    assertNothingStoredSince(mark);
    await assertStillAccepting();
  });

  it('raw UDP first block announcing Size1 = 1e9: 4.13 at once with Size1 = limit', async () => {
    const client = await RawCoapClient.open(c.coap.host);
    try {
      const mark = c.sinkMark();
      const msg = request({
        method: 'POST',
        path: '/events',
        contentFormat: 50,
        options: [
          { number: Option.BLOCK1, value: encodeBlock({ num: 0, more: true, size: 1024 }) },
          { number: Option.SIZE1, value: 1_000_000_000 },
        ],
        payload: Buffer.alloc(1024, 0x20),
      });
      const res = await client.exchange(msg, c.coap.port, c.coap.host);
      assert.equal(res.codeString, '4.13', JSON.stringify(describeMsg(res)));
      assert.equal(res.uintOption(Option.SIZE1), MAX_PAYLOAD, `Size1: ${JSON.stringify(describeMsg(res))}`);
      assert.ok(res.payload.length > 0, '4.13 must carry a diagnostic');
      assertNothingStoredSince(mark);
    } finally {
      client.close();
    }
    await assertStillAccepting();
  });

  it('raw UDP first block announcing Size1 = limit + 1: 4.13 at once', async () => {
    const client = await RawCoapClient.open(c.coap.host);
    try {
      const msg = request({
        method: 'POST',
        path: '/events',
        contentFormat: 50,
        options: [
          { number: Option.BLOCK1, value: encodeBlock({ num: 0, more: true, size: 64 }) },
          { number: Option.SIZE1, value: MAX_PAYLOAD + 1 },
        ],
        payload: Buffer.alloc(64, 0x20),
      });
      const res = await client.exchange(msg, c.coap.port, c.coap.host);
      assert.equal(res.codeString, '4.13', JSON.stringify(describeMsg(res)));
      assert.equal(res.uintOption(Option.SIZE1), MAX_PAYLOAD);
    } finally {
      client.close();
    }
  });
});

function assertNothingStoredSince(mark) {
  const pairs = c.sinkPairs(mark);
  assert.equal(pairs.length, 0, `nothing may be stored, found ${JSON.stringify(pairs.map((p) => p.doc))}`);
}

async function assertStillAccepting() {
  const e = makeEvent();
  const mark = c.sinkMark();
  const r = await RAW.send(c, { payload: json(e), contentFormat: 50 });
  assert.equal(r.code, '2.01', `a plain POST afterwards: ${r.code} ${r.text}`);
  assertStored(c.sinkPairs(mark), [e]);
}
