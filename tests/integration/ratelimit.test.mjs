// Per-device rate limit (--rate-limit 5 --rate-burst 5): a flooding device hears 4.29 with Max-Age
// while a well-behaved one on another source port is never refused; libcoap's client sees 4.29
// too; /metrics counts the refusals.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { Collector, killAll } from './lib/collector.mjs';
import { RawCoapClient, request as rawRequest, Type, Option, describe as describeMessage } from './lib/coap.mjs';
import { coapClient, coapClientAvailable, dumpOption } from './lib/coapClient.mjs';
import { scrape, metricValue } from './lib/admin.mjs';
import { makeEvent, makeBatch, assertStored } from './lib/events.mjs';

const RATE = 5;
const BURST = 5;
const TEXT_429 = /^rate limit: 5 events\/s per device; retry in \d+ s$/;

let c;
before(async () => {
  c = await Collector.start({ args: ['--rate-limit', String(RATE), '--rate-burst', String(BURST)] });
});
after(async () => {
  await c?.kill();
  await killAll();
});

/** One device: one UDP socket, so one source address and port for all its requests. */
async function openDevice() {
  return RawCoapClient.open(c.coap.host);
}

function post(device, body, { confirmable = true } = {}) {
  const buf = rawRequest({ type: confirmable ? Type.CON : Type.NON, method: 'POST', path: '/events', payload: typeof body === 'string' ? body : JSON.stringify(body), contentFormat: 50 });
  return device.exchange(buf, c.coap.port, c.coap.host);
}

function assert429(m, label) {
  assert.equal(m.codeString, '4.29', `${label}: ${JSON.stringify(describeMessage(m))}`);
  const maxAge = m.uintOption(Option.MAX_AGE);
  assert.ok(maxAge !== undefined && maxAge >= 1, `${label}: 4.29 needs Max-Age >= 1: ${JSON.stringify(describeMessage(m))}`);
  assert.equal(m.uintOption(Option.CONTENT_FORMAT) ?? 0, 0, `${label}: text/plain diagnostic`);
  assert.match(m.payload.toString('utf8'), TEXT_429, label);
}

/** Sends every request at once (distinct tokens) and returns the answers in sending order. */
async function burst(device, bodies) {
  const requests = bodies.map((b) => rawRequest({ method: 'POST', path: '/events', payload: JSON.stringify(b), contentFormat: 50 }));
  const started = Date.now();
  await Promise.all(requests.map((r) => device.send(r, c.coap.port, c.coap.host)));
  const answers = [];
  for (const r of requests) {
    const token = r.subarray(4, 4 + (r[0] & 0x0f));
    answers.push(await device.next((m) => m.code !== 0 && m.token.equals(token), 10_000));
  }
  return { answers, elapsedMs: Date.now() - started };
}

/** A UDP port that is free right now (for coap-client -p). */
async function freeUdpPort() {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  return port;
}

let refused = 0; // 4.29 answers seen by this file, for the /metrics check

describe('a flooding device and a well-behaved one', () => {
  it('the flood hears 4.29 with Max-Age past its burst; the paced device is never refused', async () => {
    const flooder = await openDevice();
    const paced = await openDevice();
    try {
      const mark = c.sinkMark();
      const floodEvents = makeBatch(30);
      const pacedEvents = makeBatch(5);

      const flood = burst(flooder, floodEvents);
      const pacing = (async () => {
        const answers = [];
        for (const e of pacedEvents) {
          answers.push(await post(paced, e));
          // Load shaping, not synchronisation: ~3 events/s stays under 5/s.
          await new Promise((r) => setTimeout(r, 300));
        }
        return answers;
      })();
      const [{ answers, elapsedMs }, pacedAnswers] = await Promise.all([flood, pacing]);

      for (const [i, m] of pacedAnswers.entries()) {
        assert.equal(m.codeString, '2.01', `paced event ${i}: ${JSON.stringify(describeMessage(m))}`);
      }
      for (let i = 0; i < BURST; i++) {
        assert.equal(answers[i].codeString, '2.01', `flood request ${i}: ${JSON.stringify(describeMessage(answers[i]))}`);
      }
      // The bucket refills one token per 200 ms while the flood is handled.
      const refills = Math.floor(elapsedMs / (1000 / RATE)) + 1;
      const created = answers.filter((m) => m.codeString === '2.01').length;
      assert.ok(created <= BURST + refills, `${created} of 30 flood requests got 2.01 within ${elapsedMs} ms`);
      for (const [i, m] of answers.entries()) {
        if (m.codeString !== '2.01') assert429(m, `flood request ${i}`);
      }
      refused += answers.length - created;

      // Exactly the answered events are stored, each once; the paced device's all of them.
      const stored = c.sinkPairs(mark);
      const accepted = floodEvents.filter((_, i) => answers[i].codeString === '2.01');
      assertStored(stored, [...accepted, ...pacedEvents]);
    } finally {
      flooder.close();
      paced.close();
    }
  });

  it('an exhausted device is refused before its body is parsed, and /health is not limited', async () => {
    const device = await openDevice();
    try {
      assert.equal((await post(device, makeBatch(BURST))).codeString, '2.01');
      // Malformed JSON would be 4.00; with no token left it is not even read. (Long enough for the
      // whole diagnostic: an answer never exceeds its request over plain UDP.)
      assert429(await post(device, `{not json${' '.repeat(64)}`), 'malformed body from an exhausted device');
      refused += 1;
      const health = await device.exchange(rawRequest({ method: 'GET', path: '/health' }), c.coap.port, c.coap.host);
      assert.equal(health.codeString, '2.05');
    } finally {
      device.close();
    }
  });

  it('a batch is taken whole or not at all; Max-Age is the wait for the whole batch', async () => {
    const device = await openDevice();
    try {
      assert.equal((await post(device, makeBatch(3))).codeString, '2.01');
      const mark = c.sinkMark();
      // 2 tokens left (plus at most a refill or two): a batch of 5 does not fit.
      const m = await post(device, makeBatch(5));
      assert429(m, 'batch of 5 with about 2 tokens');
      refused += 1;
      assert.ok(m.uintOption(Option.MAX_AGE) <= 1, `3 tokens come back within 1 s: ${JSON.stringify(describeMessage(m))}`);
      assert.equal(c.sinkPairs(mark).length, 0, 'nothing of a refused batch is stored');
      // The 2 tokens were not taken by the refusal.
      const two = makeBatch(2);
      assert.equal((await post(device, two)).codeString, '2.01');
      assertStored(c.sinkPairs(mark), two);
    } finally {
      device.close();
    }
  });

  it('a batch larger than --rate-burst is 4.00, not 4.29 (waiting would never help)', async () => {
    const device = await openDevice();
    try {
      const m = await post(device, makeBatch(BURST + 1));
      assert.equal(m.codeString, '4.00', JSON.stringify(describeMessage(m)));
      assert.equal(m.payload.toString('utf8'), `batch of ${BURST + 1} events exceeds --rate-burst ${BURST}`);
      assert.equal(m.option(Option.MAX_AGE), undefined);
    } finally {
      device.close();
    }
  });

  it('requests refused for another reason take no tokens', async () => {
    const device = await openDevice();
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await post(device, '{not json')).codeString, '4.00');
        assert.equal((await post(device, [{ sender: 'x' }])).codeString, '4.00');
      }
      const mark = c.sinkMark();
      const batch = makeBatch(BURST);
      assert.equal((await post(device, batch)).codeString, '2.01');
      assertStored(c.sinkPairs(mark), batch);
    } finally {
      device.close();
    }
  });
});

describe('libcoap coap-client-notls', { skip: !coapClientAvailable() && 'coap-client-notls not installed' }, () => {
  it('hears 4.29 with Max-Age when over the limit', async () => {
    // Each run of coap-client is a new source port, so a new device: pin it with -p. Two batches
    // of BURST in a row need a second between them to both pass; a run that starts slower than
    // that is repeated (bounded).
    let last;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freeUdpPort();
      const send = () => coapClient({ uri: c.coapUri('/events'), method: 'post', contentFormat: '50', payload: JSON.stringify(makeBatch(BURST)), extraArgs: ['-p', String(port)] });
      const first = await send();
      assert.equal(first.code, '2.01', `first batch: ${first.stdout}\n${first.stderr}`);
      last = await send();
      if (last.code === '4.29') break;
    }
    assert.equal(last.code, '4.29', `second batch: ${last.stdout}\n${last.stderr}`);
    refused += 1;
    const maxAge = Number(dumpOption(last.last, 'Max-Age'));
    assert.ok(maxAge >= 1, `Max-Age in ${JSON.stringify(last.last)}`);
    assert.match(last.diagnostic ?? '', TEXT_429, `diagnostic on stderr: ${last.stderr}`);
  });
});

describe('/metrics', () => {
  it('counts every 4.29 as a rate_limited rejection and as a 4.29 answer', async () => {
    const m = await scrape(c);
    const rejected = metricValue(m.samples, 'iot_events_rejected_total', { reason: 'rate_limited' });
    assert.equal(rejected, refused, `iot_events_rejected_total{reason="rate_limited"}:\n${m.body}`);
    const answers = metricValue(m.samples, 'iot_coap_requests_total', { method: 'POST', path: '/events', code: '4.29' });
    assert.equal(answers, refused, `iot_coap_requests_total{code="4.29"}:\n${m.body}`);
    assert.equal(metricValue(m.samples, 'iot_rate_limit_untracked_total'), 0);
  });
});
