// How the collector reaches Elasticsearch, end to end with the real binary and the Elasticsearch
// test server: HTTPS verified against --elasticsearch-ca (and refused without it or for another
// host name), gzip request bodies, several node URLs (round-robin, a dead node skipped), bulk
// requests refused as too large (413: split, never retried forever), and the self-metrics
// documents in <data-stream>-collector.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { killAll, waitFor } from './lib/collector.mjs';
import { CLIENTS, RAW, json } from './lib/clients.mjs';
import { makeEvent, makeBatch } from './lib/events.mjs';
import { makeTestCertificates } from '../elastic-test-server/certificates.mjs';
import { STREAM, startEs, startEsCollector, cleanupElastic, assertExactlyOnce, assertNoDuplicates, isBulk, metrics, metric } from './lib/elastic.mjs';

const [libcoapCli, npmCoap] = CLIENTS;
const tempDirs = [];
after(async () => {
  await cleanupElastic();
  await killAll();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function certificates(options) {
  const material = makeTestCertificates(options);
  tempDirs.push(material.dir);
  return material;
}

async function post(c, body, { via = RAW } = {}) {
  return via.send(c, { payload: typeof body === 'string' ? body : json(body), contentFormat: 50 });
}

async function postExpect(c, body, code, options) {
  const r = await post(c, body, options);
  assert.equal(r.code, code, `expected ${code}: ${JSON.stringify({ code: r.code, text: r.text })}`);
  return r;
}

/** A TCP relay to `target`: a second "node" of the same cluster, which the test can kill. */
async function startRelay(target) {
  const sockets = new Set();
  let bulkRequests = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.on('data', (chunk) => {
      bulkRequests += chunk.toString('latin1').split(/POST \/_bulk[ ?]/).length - 1;
    });
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    get bulkRequests() {
      return bulkRequests;
    },
    async kill() {
      await new Promise((resolve) => {
        server.close(resolve);
        for (const s of sockets) s.destroy();
      });
    },
  };
}

describe('HTTPS', () => {
  it('with --elasticsearch-ca: the certificate and host name are verified, and events are stored', async () => {
    const tls = certificates();
    const es = await startEs({ tls: { key: tls.key, cert: tls.cert } });
    assert.match(es.url, /^https:/);
    const c = await startEsCollector(es, { args: ['--elasticsearch-ca', tls.caFile] });
    const e = makeEvent();
    await postExpect(c, e, '2.01', { via: libcoapCli });
    assertExactlyOnce(es, [e]);
    assert.equal(c.logs.filter((l) => /insecure|not verified/.test(l.msg)).length, 0);
  });

  it('without the CA, or for a certificate of another host: nothing is sent, devices get 5.03, the log says why', async () => {
    const tls = certificates({ names: ['DNS:es.other.example'] });
    for (const args of [[], ['--elasticsearch-ca', tls.caFile]]) {
      const es = await startEs({ tls: { key: tls.key, cert: tls.cert } });
      const c = await startEsCollector(es, { args, waitBootstrap: false });
      await waitFor(() => c.logs.some((l) => /bootstrap failed/.test(l.msg)), { timeoutMs: 8000, what: 'a bootstrap failure' });
      const failure = c.logs.find((l) => /bootstrap failed/.test(l.msg));
      assert.match(JSON.stringify(failure), /certificate|verify|handshake/i, `the reason names TLS: ${JSON.stringify(failure)}`);
      assert.deepEqual(es.requests, [], `no request got through TLS (${args.length ? 'wrong host name' : 'unknown CA'})`);
      const r = await post(c, makeEvent());
      assert.equal(r.code, '5.03');
    }
  });

  it('--elasticsearch-insecure skips verification and says so in the log', async () => {
    const tls = certificates({ names: ['DNS:es.other.example'] });
    const es = await startEs({ tls: { key: tls.key, cert: tls.cert } });
    const c = await startEsCollector(es, { args: ['--elasticsearch-insecure'] });
    assert.ok(c.logs.some((l) => /^warn/.test(l.level) && /not verified/.test(l.msg)), 'a warning at start');
    const e = makeEvent();
    await postExpect(c, e, '2.01');
    assertExactlyOnce(es, [e]);
  });
});

describe('transport', () => {
  it('--bulk-gzip: bulk bodies are sent with Content-Encoding: gzip and stored whole', async () => {
    const es = await startEs();
    const c = await startEsCollector(es, { args: ['--bulk-gzip'] });
    const events = makeBatch(5);
    await postExpect(c, events, '2.01', { via: npmCoap });
    assertExactlyOnce(es, events);
    const bulks = es.requests.filter(isBulk);
    assert.ok(bulks.length > 0);
    for (const r of bulks) {
      assert.equal(r.headers['content-encoding'], 'gzip');
      assert.equal(r.headers['content-type'], 'application/x-ndjson');
      assert.ok(r.body.endsWith('\n'));
    }
  });

  it('several URLs: requests go round-robin to both nodes; with one dead, the other takes everything', async () => {
    const es = await startEs();
    const relay = await startRelay(es);
    const c = await startEsCollector(es, { url: `${es.url},${relay.url}`, args: ['--bulk-linger-ms', '1', '--threads', '1'] });
    const first = makeBatch(12);
    for (const e of first) await postExpect(c, e, '2.01');
    const direct = es.requests.filter(isBulk).length - relay.bulkRequests;
    assert.ok(relay.bulkRequests > 0 && direct > 0, `both nodes used: direct ${direct}, relayed ${relay.bulkRequests}`);

    await relay.kill();
    const second = makeBatch(12);
    for (const e of second) await postExpect(c, e, '2.01');
    assertExactlyOnce(es, [...first, ...second]);
    assertNoDuplicates(es);
  });

  it('413 (a proxy or http.max_content_length): the request is split, nothing is lost or duplicated, a lone oversized event is refused', async () => {
    const es = await startEs({ maxContentLength: 3000 });
    const c = await startEsCollector(es, { args: ['--bulk-linger-ms', '300', '--threads', '1', '--max-payload', '8192'] });
    const batches = [makeBatch(5), makeBatch(5), makeBatch(5), makeBatch(5)];
    const answers = await Promise.all(batches.map((b) => post(c, b)));
    assert.deepEqual(answers.map((a) => a.code), ['2.01', '2.01', '2.01', '2.01'], JSON.stringify(answers.map((a) => a.text)));
    const events = batches.flat();
    assertExactlyOnce(es, events);
    assertNoDuplicates(es);
    const statuses = es.requests.filter(isBulk).map((r) => r.status);
    assert.ok(statuses.includes(413), `the first request was too large: ${statuses}`);
    assert.ok(c.logs.some((l) => /too large/.test(l.msg) && /^warn/.test(l.level)), 'the split is logged with a hint');

    const huge = makeEvent({ payload: { type: 'blob', value: 'x'.repeat(3200) } });
    const refused = await libcoapCli.send(c, { payload: json(huge), contentFormat: 50, block: 512 });
    assert.equal(refused.code, '4.00', JSON.stringify({ code: refused.code, text: refused.text }));
    assert.match(refused.text, /too large/);
    const samples = await metrics(c);
    assert.equal(metric(samples, 'iot_elasticsearch_documents_total', { outcome: 'too_large' }), 1);
  });
});

describe('self-metrics', () => {
  it('--self-metrics-interval 1: documents in <stream>-collector add up to exactly what happened, also across failed writes', async () => {
    const es = await startEs();
    const c = await startEsCollector(es, { args: ['--self-metrics-interval', '1', '--instance', 'collector-sm-1'] });
    assert.ok(es.templates.has(`${STREAM}-collector`), 'its index template is installed with the others');
    const events = makeBatch(3);
    for (const e of events) await postExpect(c, e, '2.01');
    await postExpect(c, { sender: 'x' }, '4.00');
    // The next two self-metrics writes fail as a whole: their counts must arrive once, later.
    es.faults.bulkStatus(503, 2);
    const total = (field) => es.documents(`${STREAM}-collector`).reduce((sum, d) => sum + field(d._source), 0);
    await es.waitFor(() => total((s) => s.events.accepted) === 3 && es.requests.filter((r) => isBulk(r) && r.status === 503).length === 2, { timeoutMs: 10_000 });
    const docs = es.documents(`${STREAM}-collector`);
    assert.equal(new Set(docs.map((d) => d._id)).size, docs.length);
    for (const { _source: s } of docs) {
      assert.equal(s.collector, 'collector-sm-1');
      assert.equal(typeof s['@timestamp'], 'string');
      assert.equal(s.workers, 2);
      assert.equal(typeof s.ready, 'boolean');
    }
    assert.equal(total((s) => s.events.rejected), 1);
    assert.equal(total((s) => s.coap.responses.success), 3);
    assert.equal(total((s) => s.coap.responses.client_error), 1);
    assert.equal(total((s) => s.elasticsearch.documents.created), 3);
    assert.ok(total((s) => s.acknowledgement.count) >= 3);
    assertExactlyOnce(es, events);
  });
});
