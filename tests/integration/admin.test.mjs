// Admin HTTP: /healthz, /readyz, and /metrics counting exactly what this test caused.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Collector, killAll, waitFor } from './lib/collector.mjs';
import { RAW, CLIENTS, json } from './lib/clients.mjs';
import { httpGet, parseMetrics, metricValue, scrape } from './lib/admin.mjs';
import { RawCoapClient, request, encodeBlock, Option } from './lib/coap.mjs';
import { makeEvent, makeBatch, without } from './lib/events.mjs';

const MAX_BATCH = 3;
const MAX_PAYLOAD = 1000;

let c;
before(async () => {
  c = await Collector.start({ args: ['--max-batch', String(MAX_BATCH), '--max-payload', String(MAX_PAYLOAD)] });
});
after(async () => {
  await c?.kill();
  await killAll();
});

describe('health endpoints', () => {
  it('GET /healthz answers 200', async () => {
    const r = await httpGet(c.adminUrl('/healthz'));
    assert.equal(r.status, 200, r.body);
  });

  it('GET /readyz answers 200 while serving', async () => {
    const r = await httpGet(c.adminUrl('/readyz'));
    assert.equal(r.status, 200, r.body);
  });

  it('the admin port listens on the loopback address it was given', () => {
    assert.equal(c.admin.host, '127.0.0.1');
    assert.ok(c.admin.port > 0);
  });
});

describe('GET /metrics', () => {
  it('before any request: Prometheus text with build info and zero 2.01s', async () => {
    const m = await scrape(c);
    assert.match(m.headers['content-type'] ?? '', /^text\/plain/, 'Prometheus text content type');
    assert.ok(m.samples.some((s) => s.name === 'iot_build_info'), `iot_build_info missing:\n${m.body}`);
    assert.match(m.body, /^iot_build_info\{/m);
    const created = metricValue(m.samples, 'iot_coap_requests_total', { method: 'POST', path: '/events', code: '2.01' }) ?? 0;
    assert.equal(created, 0);
  });

  it('counts exactly the requests and events this test caused', async () => {
    // 2.01 x 4, carrying 1 + 1 + 3 + 1 = 6 events.
    const accepted = [makeEvent(), makeEvent(), makeBatch(3), makeEvent()];
    for (const body of accepted.slice(0, 3)) {
      const r = await RAW.send(c, { payload: json(body), contentFormat: 50 });
      assert.equal(r.code, '2.01', `${r.code} ${r.text}`);
    }
    const r4 = await CLIENTS[0].send(c, { payload: json(accepted[3]), contentFormat: 50 });
    assert.equal(r4.code, '2.01');

    // One rejection of each reason, each a single request.
    const rejections = [
      ['schema', { payload: json(without(makeEvent(), 'sender')), contentFormat: 50 }, '4.00'],
      ['schema', { payload: json(makeEvent({ extra: true })), contentFormat: 50 }, '4.00'],
      ['malformed_json', { payload: '{"a":', contentFormat: 50 }, '4.00'],
      ['bad_timestamp', { payload: json(makeEvent({ timestamp: new Date(Date.now() + 48 * 3600_000).toISOString() })), contentFormat: 50 }, '4.00'],
      ['batch_too_large', { payload: json(makeBatch(MAX_BATCH + 1).map((e) => without(e, 'timestamp'))), contentFormat: 50 }, '4.00'],
      ['payload_too_large', { payload: 'x'.repeat(MAX_PAYLOAD + 1), contentFormat: 50 }, '4.13'],
      ['unsupported_content_format', { payload: json(makeEvent()), contentFormat: 0 }, '4.15'],
    ];
    for (const [reason, req, code] of rejections) {
      const r = await RAW.send(c, req);
      assert.equal(r.code, code, `${reason}: ${r.code} ${r.text}`);
    }

    // Requests that are not POST /events 2.01 must not count as such.
    assert.equal((await RAW.send(c, { method: 'GET', path: '/health' })).code, '2.05');
    assert.equal((await RAW.send(c, { method: 'GET', path: '/events' })).code, '4.05');
    assert.equal((await RAW.send(c, { method: 'POST', path: '/nope', payload: '{}', contentFormat: 50 })).code, '4.04');

    const expectCreated = 4;
    const expectAccepted = 6;
    // Counters may be updated just after the answer is sent: poll (bounded) until they settle.
    let m;
    try {
      await waitFor(
        async () => {
          m = await scrape(c);
          return metricValue(m.samples, 'iot_coap_requests_total', { method: 'POST', path: '/events', code: '2.01' }) === expectCreated &&
            metricValue(m.samples, 'iot_events_accepted_total') === expectAccepted;
        },
        { timeoutMs: 3000, what: 'metrics to reach the expected counts' },
      );
    } catch {
      /* assert below with the last scrape, for a precise message */
    }
    const line = m.samples.find((s) => s.name === 'iot_coap_requests_total' && s.labels.method === 'POST' && s.labels.path === '/events' && s.labels.code === '2.01');
    assert.ok(line, `no iot_coap_requests_total{method="POST",path="/events",code="2.01"} sample:\n${m.body}`);
    assert.match(m.body, /^iot_coap_requests_total\{method="POST",path="\/events",code="2\.01"\} \d+/m, 'the exact label form of the contract');
    assert.equal(line.value, expectCreated, `2.01 count:\n${m.body}`);
    assert.equal(metricValue(m.samples, 'iot_events_accepted_total'), expectAccepted, `iot_events_accepted_total:\n${m.body}`);

    const rejected = (reason) => metricValue(m.samples, 'iot_events_rejected_total', { reason });
    assert.equal(rejected('schema'), 2, `iot_events_rejected_total{reason="schema"}:\n${m.body}`);
    assert.equal(rejected('malformed_json'), 1, `malformed_json:\n${m.body}`);
    assert.equal(rejected('bad_timestamp'), 1, `bad_timestamp:\n${m.body}`);
    assert.ok(rejected('batch_too_large') >= 1, `batch_too_large:\n${m.body}`);
    assert.equal(rejected('payload_too_large'), 1, `payload_too_large:\n${m.body}`);
    assert.equal(rejected('unsupported_content_format'), 1, `unsupported_content_format:\n${m.body}`);
    assert.match(m.body, /^iot_build_info\{/m);

    const otherCodes = m.samples.filter((s) => s.name === 'iot_coap_requests_total' && s.labels.path === '/events' && s.labels.method === 'POST' && s.labels.code !== '2.01');
    const rejectedRequests = otherCodes.reduce((a, s) => a + s.value, 0);
    assert.equal(rejectedRequests, rejections.length, `POST /events answered other than 2.01:\n${otherCodes.map((s) => s.line).join('\n')}`);

    // Every datagram's wait from the kernel's receipt to its answer: one at least per request
    // (retransmissions count too), and none near a second.
    const waited = metricValue(m.samples, 'iot_coap_receive_wait_seconds_count');
    const requests = m.samples.filter((s) => s.name === 'iot_coap_requests_total').reduce((a, s) => a + s.value, 0);
    assert.ok(waited >= requests && requests >= 14, `iot_coap_receive_wait_seconds_count ${waited}, requests ${requests}:\n${m.body}`);
    const underASecond = m.samples.find((s) => s.name === 'iot_coap_receive_wait_seconds_bucket' && Number(s.labels.le) === 1);
    assert.equal(underASecond?.value, waited, `iot_coap_receive_wait_seconds_bucket{le="1"}:\n${m.body}`);
    assert.ok(metricValue(m.samples, 'iot_coap_receive_wait_seconds_sum') > 0);
  });

  it('a Block1 upload counts as one 2.01 request, not one per block', async () => {
    const before = metricValue((await scrape(c)).samples, 'iot_coap_requests_total', { method: 'POST', path: '/events', code: '2.01' }) ?? 0;
    const body = Buffer.from(json(makeBatch(3)));
    const client = await RawCoapClient.open(c.coap.host);
    try {
      const blocks = Math.ceil(body.length / 64);
      // One token for the whole upload, so distinct message ids: two random ones that happened to
      // match made a block a retransmission of the one before (answered from the cache, 4.08 next).
      const firstMessageId = Math.floor(Math.random() * 0x10000);
      for (let num = 0; num < blocks; num++) {
        const more = num < blocks - 1;
        const res = await client.exchange(
          request({ method: 'POST', path: '/events', contentFormat: 50, token: Buffer.from('b10c', 'hex'), messageId: (firstMessageId + num) & 0xffff, options: [{ number: Option.BLOCK1, value: encodeBlock({ num, more, size: 64 }) }], payload: body.subarray(num * 64, (num + 1) * 64) }),
          c.coap.port,
          c.coap.host,
        );
        assert.equal(res.codeString, more ? '2.31' : '2.01');
      }
    } finally {
      client.close();
    }
    let after;
    await waitFor(
      async () => {
        after = metricValue((await scrape(c)).samples, 'iot_coap_requests_total', { method: 'POST', path: '/events', code: '2.01' });
        return after === before + 1;
      },
      { timeoutMs: 3000, what: '2.01 count to grow by one' },
    ).catch(() => {});
    assert.equal(after, before + 1);
  });

  it('every sample line parses as Prometheus text', async () => {
    const r = await httpGet(c.adminUrl('/metrics'));
    assert.equal(r.status, 200);
    assert.doesNotThrow(() => parseMetrics(r.body));
  });
});
