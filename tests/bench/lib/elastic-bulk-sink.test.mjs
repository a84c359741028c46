import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';

// ctest passes the built binary; by hand, the release build of the repo is used when present.
const sinkBin = process.env.ELASTIC_BULK_SINK_BIN
  ?? fileURLToPath(new URL('../../../build/release/tests/bench/elastic-bulk-sink', import.meta.url));
const skip = existsSync(sinkBin) ? false : `elastic-bulk-sink not built (${sinkBin}); set ELASTIC_BULK_SINK_BIN`;

function request(agent, base, method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, agent, headers: body === undefined ? headers : { 'content-type': 'application/x-ndjson', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const bulkOf = (ids) => ids.map((id) => `{"create":{"_index":"iot-events","_id":"${id}"}}\n{"value":1}\n`).join('');

/** Runs `fn(agent, base)` against a fresh sink, then stops it and checks that it exited 0. */
async function withSink(fn) {
  const sink = spawn(sinkBin, ['0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(sink, 'exit');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const [line] = await once(createInterface({ input: sink.stdout }), 'line');
    const base = JSON.parse(line).listening;
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    await fn(agent, base);
  } finally {
    agent.destroy();
    sink.kill('SIGTERM');
    const [code, signal] = await exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
  }
}

test('elastic-bulk-sink answers the calls iot-collector makes and exits 0 on SIGTERM', { skip, timeout: 20_000 }, () => withSink(async (agent, base) => {
  const root = await request(agent, base, 'GET', '/');
  assert.equal(root.status, 200);
  assert.equal(root.headers['x-elastic-product'], 'Elasticsearch');
  assert.equal(root.json.version.number, '8.15.0');
  assert.equal((await request(agent, base, 'GET', '/_cluster/health')).json.status, 'green');
  assert.deepEqual((await request(agent, base, 'PUT', '/_index_template/iot-events', '{}')).json, { acknowledged: true });

  const body = bulkOf(['a1', 'a2', 'a3']);
  const first = await request(agent, base, 'POST', '/_bulk', body);
  assert.equal(first.status, 200);
  assert.equal(first.json.errors, false);
  assert.deepEqual(first.json.items.map((item) => item.create.status), [201, 201, 201]);
  assert.deepEqual(first.json.items.map((item) => item.create._id), ['a1', 'a2', 'a3']);
  assert.equal(first.json.items[0].create._index, 'iot-events');

  const again = await request(agent, base, 'POST', '/_bulk', body);
  assert.equal(again.json.errors, true);
  assert.deepEqual(again.json.items.map((item) => item.create.status), [409, 409, 409]);
  assert.equal(again.json.items[1].create.error.type, 'version_conflict_engine_exception');
  assert.match(again.json.items[1].create.error.reason, /^\[a2\]: version conflict/);

  // The collector's filter: only errors and each item's status (and error).
  const filtered = await request(agent, base, 'POST', '/_bulk?filter_path=errors,items.*.status,items.*.error', bulkOf(['b1', 'a1']));
  assert.equal(filtered.status, 200);
  assert.equal(filtered.json.errors, true);
  assert.equal(filtered.json.took, undefined);
  assert.deepEqual(filtered.json.items[0], { create: { status: 201 } });
  assert.equal(filtered.json.items[1].create.status, 409);
  assert.equal(filtered.json.items[1].create.error.type, 'version_conflict_engine_exception');

  const noDocument = await request(agent, base, 'POST', '/_bulk', '{"create":{"_index":"iot-events","_id":"c1"}}\n');
  assert.equal(noDocument.status, 400);
  assert.equal(noDocument.json.error.type, 'illegal_argument_exception');
  const noId = await request(agent, base, 'POST', '/_bulk', '{"create":{"_index":"iot-events"}}\n{"value":1}\n');
  assert.equal(noId.status, 400);
  assert.equal((await request(agent, base, 'GET', '/_nothing_here')).status, 404);

  const stats = await request(agent, base, 'GET', '/_sink/stats');
  assert.deepEqual(stats.json, { documents: 4, duplicates: 4, bulk_requests: 5 });
}));

test('elastic-bulk-sink inflates gzip bodies (iot-collector --bulk-gzip) and refuses other encodings', { skip, timeout: 20_000 }, async () => {
  const body = bulkOf(['g1', 'g2', 'g1']);
  // The answer to the same body uncompressed, from a sink of its own, is what gzip must not change.
  let plain;
  await withSink(async (agent, base) => {
    plain = await request(agent, base, 'POST', '/_bulk', body);
  });
  assert.equal(plain.status, 200);
  assert.deepEqual(plain.json.items.map((item) => item.create.status), [201, 201, 409]);

  await withSink(async (agent, base) => {
    const gzip = { 'content-encoding': 'gzip' };
    const compressed = await request(agent, base, 'POST', '/_bulk', gzipSync(body), gzip);
    assert.equal(compressed.status, 200);
    assert.deepEqual(compressed.json, plain.json);
    assert.deepEqual(compressed.json.items.map((item) => item.create._id), ['g1', 'g2', 'g1']);
    assert.deepEqual((await request(agent, base, 'GET', '/_sink/stats')).json, { documents: 2, duplicates: 1, bulk_requests: 1 });

    // x-gzip is the same; the collector's filter_path still applies.
    const xGzip = await request(agent, base, 'POST', '/_bulk?filter_path=errors,items.*.status,items.*.error', gzipSync(bulkOf(['g3', 'g2'])), { 'content-encoding': 'x-gzip' });
    assert.equal(xGzip.status, 200);
    assert.equal(xGzip.json.errors, true);
    assert.deepEqual(xGzip.json.items.map((item) => item.create.status), [201, 409]);
    // Several gzip members one after the other are one body (RFC 1952).
    const members = await request(agent, base, 'POST', '/_bulk', Buffer.concat([gzipSync(bulkOf(['g4'])), gzipSync(bulkOf(['g5']))]), gzip);
    assert.deepEqual(members.json.items.map((item) => item.create.status), [201, 201]);
    // Inflated, the body still has to be valid bulk NDJSON.
    const noNewline = await request(agent, base, 'POST', '/_bulk', gzipSync(body.slice(0, -1)), gzip);
    assert.equal(noNewline.status, 400);
    assert.equal(noNewline.json.error.type, 'illegal_argument_exception');

    const whole = gzipSync(bulkOf(['c1', 'c2']));
    for (const corrupt of [whole.subarray(0, whole.length - 5), Buffer.from(body), Buffer.concat([whole, Buffer.from('trailing')])]) {
      const answer = await request(agent, base, 'POST', '/_bulk', corrupt, gzip);
      assert.equal(answer.status, 400);
      assert.equal(answer.json.status, 400);
      assert.equal(answer.json.error.type, 'parse_exception');
    }
    const brotli = await request(agent, base, 'POST', '/_bulk', brotliCompressSync(bulkOf(['b1'])), { 'content-encoding': 'br' });
    assert.equal(brotli.status, 400);
    assert.equal(brotli.json.error.type, 'illegal_argument_exception');

    // ~100 KiB that inflate to one byte over the 100 MiB limit: the answer to an oversized body.
    const bomb = await request(agent, base, 'POST', '/_bulk', gzipSync(Buffer.alloc(100 * 2 ** 20 + 1, '\n')), gzip);
    assert.equal(bomb.status, 413);
    assert.equal(bomb.json.status, 413);

    // Nothing refused was counted: the 400s for corrupt gzip, brotli and the oversized body
    // never reached the bulk handler (the NDJSON error did, as without gzip).
    assert.deepEqual((await request(agent, base, 'GET', '/_sink/stats')).json, { documents: 5, duplicates: 2, bulk_requests: 4 });
  });
});
