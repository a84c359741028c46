// The Elasticsearch sink against the Elasticsearch test server: bootstrap (policy, templates),
// --ack stored (2.01 only once the document is in Elasticsearch, separate CON response),
// idempotent resends (409), dead letters (item 400), item 429 retries, connection resets after
// store, outages (refused/reset) with /readyz, --ack-timeout-ms, authentication, NON and
// --ack accepted.
import { describe, it, before, beforeEach, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { killAll, waitFor, runCollector, makeTempDir } from './lib/collector.mjs';
import { CLIENTS, RAW, json } from './lib/clients.mjs';
import { makeEvent, makeBatch, without } from './lib/events.mjs';
import { scrape } from './lib/admin.mjs';
import { iotc, target } from './lib/iotc.mjs';
import {
  STREAM,
  DLQ,
  startEs,
  startEsCollector,
  waitBootstrapped,
  cleanupElastic,
  readyz,
  metrics,
  outcome,
  metric,
  docsOf,
  senderCounts,
  assertExactlyOnce,
  assertNoDuplicates,
  bulkItemsFor,
  isBulk,
  RawDevice,
  answerOf,
} from './lib/elastic.mjs';

after(async () => {
  await cleanupElastic();
  await killAll();
});

/** Post with the raw client; assert the code; return the answer. */
async function postRaw(c, body, code, { confirmable = true } = {}) {
  const r = await RAW.send(c, { payload: typeof body === 'string' ? body : json(body), contentFormat: 50, confirmable });
  if (code) assert.equal(r.code, code, `expected ${code}, got ${JSON.stringify(r.describe)}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
describe('bootstrap', () => {
  it('installs <stream>-policy, then templates <stream> and <stream>-dlq; events go to <stream>', async () => {
    const es = await startEs();
    const c = await startEsCollector(es, { args: ['--data-stream', 'plant-telemetry', '--retention-days', '7'] });

    assert.deepEqual([...es.policies.keys()], ['plant-telemetry-policy']);
    assert.deepEqual([...es.templates.keys()].sort(), ['plant-telemetry', 'plant-telemetry-collector', 'plant-telemetry-dlq']);
    // Order matters: the templates name the policy.
    const puts = es.requests.filter((r) => r.method === 'PUT').map((r) => r.path);
    assert.deepEqual(puts, [
      '/_ilm/policy/plant-telemetry-policy',
      '/_index_template/plant-telemetry',
      '/_index_template/plant-telemetry-dlq',
      '/_index_template/plant-telemetry-collector',
    ]);
    for (const [name, t] of es.templates) {
      assert.ok(t.data_stream !== undefined, `template ${name} must create a data stream: ${JSON.stringify(t)}`);
      assert.ok(t.index_patterns.some((p) => p === name || p === `${name}*`), `template ${name} patterns ${JSON.stringify(t.index_patterns)}`);
      assert.equal(t.template?.settings?.['index.lifecycle.name'] ?? t.template?.settings?.index?.lifecycle?.name, 'plant-telemetry-policy', `template ${name} must use the policy`);
    }
    assert.equal(es.policies.get('plant-telemetry-policy').policy.phases.delete?.min_age, '7d', '--retention-days 7: delete phase after 7d');

    const e = makeEvent();
    await postRaw(c, e, '2.01');
    assertExactlyOnce(es, [e], 'plant-telemetry');
    assert.ok(es.dataStreams.has('plant-telemetry'), 'a data stream is created');
    assert.equal(es.documents(STREAM).length, 0, 'nothing in the default stream');
  });

  it('logs "ready" while Elasticsearch refuses connections; POST gets 5.03 + Max-Age until bootstrap completes', async () => {
    const es = await startEs();
    await es.faults.down('refused');
    const c = await startEsCollector(es, { waitBootstrap: false });
    assert.equal(c.logsWith('elasticsearch bootstrap complete').length, 0);
    const e = makeEvent();
    const r = await postRaw(c, e);
    assert.equal(r.code, '5.03', `before bootstrap: ${JSON.stringify(r.describe)}`);
    assert.ok(r.hasMaxAge, `5.03 must carry Max-Age: ${JSON.stringify(r.describe)}`);
    assert.notEqual(await readyz(c), 200, '/readyz while Elasticsearch is unreachable');
    await es.faults.up();
    await waitBootstrapped(c, 15_000);
    assert.ok(es.templates.has(STREAM) && es.templates.has(DLQ) && es.policies.has(`${STREAM}-policy`));
    await postRaw(c, e, '2.01');
    assertExactlyOnce(es, [e]);
    await waitFor(async () => (await readyz(c)) === 200, { timeoutMs: 7000, what: '/readyz 200 after bootstrap' });
  });

  it('--elasticsearch-bootstrap=false installs nothing; writes work once the template exists', async () => {
    const es = await startEs();
    const c = await startEsCollector(es, { args: ['--elasticsearch-bootstrap=false'], waitBootstrap: false });
    // The health check is the collector's first request.
    await es.waitFor(() => es.requests.some((r) => r.path === '/_cluster/health'), { timeoutMs: 5000 });
    await waitFor(async () => (await readyz(c)) === 200, { timeoutMs: 5000, what: '/readyz 200' });
    assert.deepEqual(es.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`), [], 'no PUT/POST before the first event');
    assert.equal(es.templates.size, 0);
    assert.equal(es.policies.size, 0);

    const res = await fetch(`${es.url}/_index_template/${STREAM}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ index_patterns: [STREAM], data_stream: {}, priority: 200 }),
    });
    assert.equal(res.status, 200, await res.text());

    const e = makeEvent();
    await postRaw(c, e, '2.01');
    assertExactlyOnce(es, [e]);
    assert.ok(es.dataStreams.has(STREAM));
    assert.deepEqual([...es.templates.keys()], [STREAM], 'the collector installed no template');
    assert.equal(es.policies.size, 0, 'the collector installed no policy');
  });

  it('--sink together with --elasticsearch-url exits 2', async () => {
    const r = await runCollector(['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--sink', 'file:/tmp/x.ndjson', '--elasticsearch-url', 'http://127.0.0.1:9']);
    assert.equal(r.status, 2, `stderr: ${r.stderr}`);
  });
});

// ---------------------------------------------------------------------------------------------
describe('--ack stored', () => {
  let es;
  let c;
  before(async () => {
    es = await startEs();
    c = await startEsCollector(es);
  });
  beforeEach(() => es.faults.clear());

  for (const client of CLIENTS) {
    it(`${client.name}: 2.01 arrives only once the document is in Elasticsearch`, async () => {
      const e = makeEvent();
      const r = await client.send(c, { payload: json(e), contentFormat: 50 });
      const present = docsOf(es, e.sender).length; // right at the answer, no waiting
      assert.equal(r.code, '2.01', `${r.code} ${r.text}`);
      assert.equal(present, 1, 'the document must be stored when 2.01 arrives');
      assertExactlyOnce(es, [e]);
    });
  }

  /**
   * One event from a raw device; checks what holds however the answer travels (2.01, the
   * document stored when it arrives, exactly once) and hands back the exchange's messages.
   */
  async function postStoredRaw() {
    const d = await RawDevice.open(c.coap);
    try {
      const e = makeEvent();
      let presentAtAnswer;
      const ex = d.post(json(e), { onAnswer: () => (presentAtAnswer = docsOf(es, e.sender).length) });
      const a = await answerOf(ex, 8000);
      assert.equal(a.code, '2.01');
      assert.equal(presentAtAnswer, 1, 'the document must be stored when 2.01 arrives');
      assertExactlyOnce(es, [e]);
      return ex;
    } finally {
      d.close();
    }
  }

  it('raw UDP: the 2.01 rides on the ACK once the document is stored (one datagram, no separate response)', async () => {
    const ex = await postStoredRaw();
    assert.equal(ex.messages.length, 1, `messages: ${JSON.stringify(ex.messages)}`);
    const [ack] = ex.messages;
    assert.equal(ack.type, 'ACK', `piggybacked: ${JSON.stringify(ack)}`);
    assert.equal(ack.code, '2.01');
    assert.equal(ack.mid, ex.mid);
    assert.equal(ack.token, ex.token.toString('hex'), 'same token');
  });

  it('raw UDP, Elasticsearch slower than the 500 ms the ACK is held: empty ACK, then a CON 2.01 with the same token', async () => {
    es.faults.delay(900, { match: isBulk });
    const ex = await postStoredRaw();
    assert.ok(ex.messages.length >= 2, `messages: ${JSON.stringify(ex.messages)}`);
    const [first, second] = ex.messages;
    assert.equal(first.type, 'ACK', `first message: ${JSON.stringify(first)}`);
    assert.equal(first.code, '0.00', `the ACK must be empty: ${JSON.stringify(first)}`);
    assert.equal(first.mid, ex.mid);
    const heldMs = first.at - ex.sentAt;
    assert.ok(heldMs >= 450 && heldMs < 900, `the empty ACK after the hold, before the answer: ${heldMs} ms`);
    assert.equal(second.type, 'CON', `the answer is a separate CON response: ${JSON.stringify(second)}`);
    assert.equal(second.code, '2.01');
    assert.equal(second.token, ex.token.toString('hex'), 'same token');
  });

  it('a batch of 10: one 2.01, 10 documents; the same batch again: 2.01, still 10 (409 = duplicate)', async () => {
    // Small events, so that the batch fits in one datagram (no Block1).
    const batch = makeBatch(10, { namespace: undefined, origin: 'p', payload: { type: 't', value: 1 } }).map((e) => without(e, 'namespace'));
    assert.ok(json(batch).length < 1400, `test bug: batch of ${json(batch).length} bytes`);
    const m0 = await metrics(c);
    const r1 = await postRaw(c, batch, '2.01');
    assert.equal(r1.type, 'ACK', 'piggybacked once stored');
    assertExactlyOnce(es, batch);
    const m1 = await metrics(c);
    assert.equal(outcome(m1, 'created') - outcome(m0, 'created'), 10, 'created += 10');

    const r2 = await postRaw(c, batch, '2.01');
    assert.equal(r2.code, '2.01');
    assertExactlyOnce(es, batch);
    const m2 = await metrics(c);
    assert.equal(outcome(m2, 'duplicate') - outcome(m1, 'duplicate'), 10, 'duplicate += 10');
    assert.equal(outcome(m2, 'created') - outcome(m1, 'created'), 0, 'nothing created by the resend');
    // Every resent item was a create that got 409.
    for (const e of batch) {
      const items = bulkItemsFor(es, e.sender);
      assert.equal(items.length, 2, `${e.sender} sent twice`);
      assert.ok(items.every((it) => it.op === 'create'), 'bulk create');
      assert.equal(items[0].meta._id, items[1].meta._id, 'deterministic _id');
    }
  });

  it('item 400 for one event: the device hears 4.00 with the reason; the others ARE stored; dead letter with the original line', async () => {
    const [good1, bad, good2] = makeBatch(3);
    const reason = 'injected: [payload.value] cannot be parsed';
    es.faults.itemStatus(400, { match: (src) => src?.sender === bad.sender, reason });
    const m0 = await metrics(c);
    const d = await RawDevice.open(c.coap);
    let atAnswer;
    try {
      const ex = d.post(json([good1, bad, good2]), {
        onAnswer: () => (atAnswer = { good: [docsOf(es, good1.sender).length, docsOf(es, good2.sender).length], bad: docsOf(es, bad.sender).length }),
      });
      const a = await answerOf(ex, 8000);
      assert.equal(a.code, '4.00', `answer: ${JSON.stringify(a)}`);
      assert.match(a.text, /rejected by Elasticsearch: document_parsing_exception: /, a.text);
      assert.ok(a.text.includes(reason), `4.00 must name the reason: ${a.text}`);
    } finally {
      d.close();
    }
    // All-or-nothing per request is NOT how storage works: the device hears 4.00, the others are in.
    assert.deepEqual(atAnswer, { good: [1, 1], bad: 0 }, 'at the 4.00: both good events stored, the bad one not');
    assertExactlyOnce(es, [good1, good2]);
    assert.equal(docsOf(es, bad.sender).length, 0, 'the rejected event is not in the data stream');

    const [letter] = await es.waitForDocuments(DLQ, 1, { timeoutMs: 5000 });
    assert.equal(es.documents(DLQ).length, 1, 'one dead letter');
    const [sent] = bulkItemsFor(es, bad.sender);
    assert.equal(letter._id, sent.meta._id, 'the dead letter has the rejected document\'s _id');
    const src = letter._source;
    assert.equal(typeof src['@timestamp'], 'string');
    assert.equal(typeof src.event, 'string', `event must be the original line as a string: ${JSON.stringify(src)}`);
    assert.equal(src.event, sent.sourceLine, 'event is exactly the source line that was rejected');
    assert.equal(JSON.parse(src.event).sender, bad.sender);
    assert.equal(src.error?.status, 400);
    assert.ok(String(src.error?.reason).includes(reason), `error.reason: ${JSON.stringify(src.error)}`);
    const m1 = await metrics(c);
    assert.equal(outcome(m1, 'dead_lettered') - outcome(m0, 'dead_lettered'), 1, 'dead_lettered += 1');
    assert.equal(es.faults.pending().itemStatus, 0, 'the fault was used');
  });

  it('item 429 for one event: it alone is re-sent, and 2.01 comes only once it is stored', async () => {
    const [a, b] = makeBatch(2);
    es.faults.itemStatus(429, { match: (src) => src?.sender === a.sender });
    const m0 = await metrics(c);
    const d = await RawDevice.open(c.coap);
    let atAnswer;
    try {
      const ex = d.post(json([a, b]), { onAnswer: () => (atAnswer = [docsOf(es, a.sender).length, docsOf(es, b.sender).length]) });
      const ans = await answerOf(ex, 8000);
      assert.equal(ans.code, '2.01', JSON.stringify(ans));
    } finally {
      d.close();
    }
    assert.deepEqual(atAnswer, [1, 1], 'both stored when 2.01 arrives');
    assertExactlyOnce(es, [a, b]);
    assert.equal(bulkItemsFor(es, a.sender).length, 2, 'the 429 document was sent twice');
    assert.equal(bulkItemsFor(es, b.sender).length, 1, 'the stored document was not re-sent');
    const m1 = await metrics(c);
    assert.ok(outcome(m1, 'retried') - outcome(m0, 'retried') >= 1, 'retried >= 1');
  });

  it('stored, then the connection is reset: the retry gets 409, one document, the device hears 2.01', async () => {
    const e = makeEvent();
    es.faults.resetAfterStore(1);
    const m0 = await metrics(c);
    const r = await postRaw(c, e, '2.01');
    assert.equal(r.code, '2.01');
    assertExactlyOnce(es, [e]);
    assert.equal(es.faults.pending().resetAfterStore, 0, 'the fault was used');
    const items = bulkItemsFor(es, e.sender);
    const trace = JSON.stringify(items.map((i) => ({ seq: i.seq, reset: i.reset, status: i.status, connection: es.requests.find((r) => r.seq === i.seq)?.connection, time: es.requests.find((r) => r.seq === i.seq)?.time })));
    assert.ok(items.length >= 2 && items[0].reset, `first bulk reset, then retried: ${trace}`);
    const m1 = await metrics(c);
    assert.ok(outcome(m1, 'duplicate') - outcome(m0, 'duplicate') >= 1, 'the retry counted as duplicate');
  });

  it('a request reset after store on a reused connection is re-sent at once; the 409 counts it as a duplicate', async () => {
    // HttpClient re-sends a request lost on a reused keep-alive connection before any response
    // byte, once and without backoff (the usual race with a server closing an idle connection);
    // that is not a bulk failure. The re-send is answered 409 because the first one was stored.
    const e = makeEvent();
    es.faults.resetAfterStore(1);
    const m0 = await metrics(c);
    await postRaw(c, e, '2.01');
    assertExactlyOnce(es, [e]);
    const attempts = bulkItemsFor(es, e.sender);
    assert.ok(attempts.length >= 2, `expected the reset attempt and its re-send: ${JSON.stringify(attempts)}`);
    const m1 = await metrics(c);
    assert.equal(outcome(m1, 'duplicate') - outcome(m0, 'duplicate'), 1);
  });
});

// ---------------------------------------------------------------------------------------------
describe('--ack-timeout-ms', () => {
  it('300 ms with a 2 s slow bulk: the device gets 5.03 + Max-Age, and the event is stored anyway', async () => {
    const es = await startEs();
    const c = await startEsCollector(es, { args: ['--ack-timeout-ms', '300'] });
    es.faults.delay(2000, { match: isBulk });
    const e = makeEvent();
    const t0 = Date.now();
    const r = await postRaw(c, e);
    const elapsed = Date.now() - t0;
    assert.equal(r.code, '5.03', JSON.stringify(r.describe));
    assert.ok(r.hasMaxAge, `5.03 must carry Max-Age: ${JSON.stringify(r.describe)}`);
    assert.ok(elapsed < 1900, `5.03 after ${elapsed} ms, not within the ack timeout`);
    assert.equal(docsOf(es, e.sender).length, 0, 'not stored yet');
    await es.waitFor(() => docsOf(es, e.sender).length >= 1, { timeoutMs: 6000, message: 'the event was never stored' });
    assertExactlyOnce(es, [e]);
  });
});

// ---------------------------------------------------------------------------------------------
describe('--max-buffered-bytes with --ack stored', () => {
  it('devices waiting for Elasticsearch count against the buffer: beyond it 5.03; every 2.01 is stored exactly once, no 5.03 is', async () => {
    const es = await startEs();
    const budget = 1 << 20; // per worker, 2 workers
    const c = await startEsCollector(es, { args: ['--max-buffered-bytes', String(budget), '--bulk-max-bytes', '262144', '--ack-timeout-ms', '60000'] });
    es.faults.delay(3000, { times: 1000, match: isBulk }); // Elasticsearch falls behind
    const requests = 4000;
    const run = await iotc(['load', '--concurrency', String(requests), '--count', String(requests), '--devices', '16', '--run-id', 'waiting-budget',
      '--exchange-timeout-ms', '40000', '--drain-timeout-ms', '40000', '--report', 'json', ...target(c)]);
    const report = JSON.parse(run.stdout);
    const created = report.responses['2.01'] ?? 0;
    const busy = report.responses['5.03'] ?? 0;
    assert.equal(created + busy, requests, `every request answered 2.01 or 5.03: ${JSON.stringify(report.responses)}`);
    // The documents alone (~350 bytes each, 1.4 MB) would fit in the two workers' 2 MiB: only
    // the waiting devices' share (640 bytes each) makes the collector refuse some.
    const mostWaiting = Math.floor((2 * budget) / 640);
    assert.ok(created <= mostWaiting, `${created} devices waited at once; the buffers hold at most ${mostWaiting}`);
    assert.ok(busy >= requests - mostWaiting, `5.03: ${busy}`);
    assert.ok(created >= 500, `still room for many waiting devices: ${created}`);
    const stored = () => es.documents(STREAM).filter((d) => d._source.payload?.run_id === 'waiting-budget');
    assert.equal(stored().length, created, 'stored exactly what was answered 2.01 (a 5.03 is never stored)');
    assert.equal(new Set(stored().map((d) => d._source.payload.value)).size, created, 'no duplicates');
  });
});

// ---------------------------------------------------------------------------------------------
// An outage: connections refused (listener closed) or reset. Both run at once to save time.
describe('Elasticsearch outage', { concurrency: 2 }, () => {
  for (const mode of ['refused', 'reset']) {
    it(`down('${mode}'): no 2.01 while down, /readyz 503; after up() every event stored exactly once and acknowledged`, async () => {
      const es = await startEs();
      const c = await startEsCollector(es, { args: ['--ack-timeout-ms', '60000'] });
      await waitFor(async () => (await readyz(c)) === 200, { timeoutMs: 6000, what: '/readyz 200' });
      const before = makeEvent();
      await postRaw(c, before, '2.01');

      await es.faults.down(mode);
      const downAt = Date.now();
      const d = await RawDevice.open(c.coap);
      try {
        const events = makeBatch(4);
        const exchanges = events.map((e) =>
          d.post(json(e), {
            onAnswer: (a, ex) => {
              ex.storedAtAnswer = docsOf(es, e.sender).length;
            },
          }),
        );
        await waitFor(() => exchanges.every((x) => x.emptyAck), { timeoutMs: 3000, what: 'empty ACKs' });

        await waitFor(async () => (await readyz(c)) === 503, { timeoutMs: 7000, what: `/readyz 503 after down('${mode}')` });
        const notReadyAfter = Date.now() - downAt;
        assert.ok(notReadyAfter < 7000, `/readyz 503 after ${notReadyAfter} ms`);
        const m = await metrics(c);
        assert.equal(metric(m, 'iot_elasticsearch_up'), 0, 'iot_elasticsearch_up 0 while down');
        assert.equal(metric(m, 'iot_ready'), 0, 'iot_ready 0 while down');
        assert.deepEqual(exchanges.map((x) => x.answer), [null, null, null, null], 'no answer while Elasticsearch is down');
        for (const e of events) assert.equal(docsOf(es, e.sender).length, 0);

        await es.faults.up();
        const upAt = Date.now();
        const answers = await Promise.all(exchanges.map((x) => answerOf(x, 15_000)));
        assert.deepEqual(answers.map((a) => a.code), ['2.01', '2.01', '2.01', '2.01'], JSON.stringify(answers));
        assert.deepEqual(exchanges.map((x) => x.storedAtAnswer), [1, 1, 1, 1], 'each event stored when its 2.01 arrived');
        assertExactlyOnce(es, [before, ...events]);
        assertNoDuplicates(es);
        const m2 = await metrics(c);
        assert.ok(metric(m2, 'iot_elasticsearch_bulk_failures_total') > 0, 'bulk failures counted');
        await waitFor(async () => (await readyz(c)) === 200, { timeoutMs: 7000, what: '/readyz 200 after up()' });
        assert.ok(c.logsWith('elasticsearch unreachable').length >= 1, 'logs "elasticsearch unreachable"');
        await waitFor(() => c.logsWith('elasticsearch reachable').length >= 1, { timeoutMs: 2000, what: '"elasticsearch reachable" log' });
        assert.ok(Date.now() - upAt < 15_000);
      } finally {
        d.close();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
describe('authentication', () => {
  const apiKey = 'collector-7:Zk9xY2h0ZXN0LXNlY3JldA';
  const encoded = Buffer.from(apiKey).toString('base64');

  it('--elasticsearch-api-key (encoded form): bootstrap and writes succeed with ApiKey auth', async () => {
    const es = await startEs({ auth: { apiKey } });
    const c = await startEsCollector(es, { args: ['--elasticsearch-api-key', encoded] });
    const e = makeEvent();
    await postRaw(c, e, '2.01');
    assertExactlyOnce(es, [e]);
    assert.ok(es.requests.length > 0);
    assert.ok(es.requests.every((r) => r.headers.authorization === 'ApiKey'), 'every request authenticated with ApiKey');
    assert.deepEqual(es.requests.filter((r) => r.status === 401), [], 'no 401');
    assert.ok(!c.stderr.includes(encoded) && !c.stderr.includes(apiKey));
  });

  it('--elasticsearch-username with --elasticsearch-password-file: Basic auth works', async () => {
    const es = await startEs({ auth: { username: 'iot-writer', password: 'pw-7f3b9e1c2a' } });
    const dir = makeTempDir();
    try {
      const pwFile = path.join(dir, 'password');
      fs.writeFileSync(pwFile, 'pw-7f3b9e1c2a\n');
      const c = await startEsCollector(es, { args: ['--elasticsearch-username', 'iot-writer', '--elasticsearch-password-file', pwFile] });
      const e = makeEvent();
      await postRaw(c, e, '2.01');
      assertExactlyOnce(es, [e]);
      assert.ok(es.requests.every((r) => r.headers.authorization === 'Basic'));
      assert.ok(!c.stderr.includes('pw-7f3b9e1c2a'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a wrong key: bootstrap keeps failing (warn), devices get 5.03, the key appears in no log and no metric', async () => {
    const wrongPlain = 'collector-7:wrong-S3cr3t-Qm9ndXM';
    const wrong = Buffer.from(wrongPlain).toString('base64');
    const es = await startEs({ auth: { apiKey } });
    const c = await startEsCollector(es, { args: ['--elasticsearch-api-key', wrong], waitBootstrap: false });
    await es.waitFor(() => es.requests.filter((r) => r.status === 401).length >= 3, { timeoutMs: 8000, message: 'the collector did not keep retrying the bootstrap' });
    await waitFor(() => c.logs.some((l) => /^warn/.test(l.level) && /bootstrap/.test(l.msg)), { timeoutMs: 3000, what: 'a bootstrap warning' });
    assert.equal(c.logsWith('elasticsearch bootstrap complete').length, 0);
    assert.equal(es.templates.size + es.policies.size, 0, 'nothing installed');

    const e = makeEvent();
    const r = await postRaw(c, e);
    assert.equal(r.code, '5.03', JSON.stringify(r.describe));
    assert.ok(r.hasMaxAge, '5.03 carries Max-Age');
    assert.equal(docsOf(es, e.sender).length, 0);
    assert.notEqual(await readyz(c), 200, 'not ready while Elasticsearch refuses the credentials');

    const m = await scrape(c);
    for (const secret of [wrong, wrongPlain, 'wrong-S3cr3t-Qm9ndXM']) {
      assert.ok(!c.stderr.includes(secret), `the key (${secret}) appears in the logs`);
      assert.ok(!c.stdout.includes(secret), `the key (${secret}) appears on stdout`);
      assert.ok(!m.body.includes(secret), `the key (${secret}) appears in /metrics`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('answers that do not wait for Elasticsearch', () => {
  it('a NON request under --ack stored: 2.01 (NON) at once, the document arrives later', async () => {
    const es = await startEs();
    const c = await startEsCollector(es);
    es.faults.delay(1500, { match: isBulk });
    const e = makeEvent();
    const r = await postRaw(c, e, '2.01', { confirmable: false });
    assert.equal(r.type, 'NON', JSON.stringify(r.describe));
    assert.equal(docsOf(es, e.sender).length, 0, 'answered before the (delayed) bulk was stored');
    await es.waitForDocuments(STREAM, 1, { timeoutMs: 6000 });
    assertExactlyOnce(es, [e]);
  });

  it('--ack accepted: CON answered 2.01 in the ACK at once, the documents arrive later', async () => {
    const es = await startEs();
    const c = await startEsCollector(es, { args: ['--ack', 'accepted'] });
    es.faults.delay(1500, { match: isBulk });
    const batch = makeBatch(3);
    const r = await postRaw(c, batch, '2.01');
    assert.equal(r.type, 'ACK', `piggybacked: ${JSON.stringify(r.describe)}`);
    assert.equal(es.documents(STREAM).length, 0, 'answered before the (delayed) bulk was stored');
    const npmEvent = makeEvent();
    const r2 = await CLIENTS[1].send(c, { payload: json(npmEvent), contentFormat: 50 });
    assert.equal(r2.code, '2.01');
    await es.waitForDocuments(STREAM, 4, { timeoutMs: 6000 });
    assertExactlyOnce(es, [...batch, npmEvent]);
    assert.equal(senderCounts(es).size, 4);
  });
});

