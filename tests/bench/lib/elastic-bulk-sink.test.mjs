import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// ctest passes the built binary; by hand, the release build of the repo is used when present.
const sinkBin = process.env.ELASTIC_BULK_SINK_BIN
  ?? fileURLToPath(new URL('../../../build/release/tests/bench/elastic-bulk-sink', import.meta.url));
const skip = existsSync(sinkBin) ? false : `elastic-bulk-sink not built (${sinkBin}); set ELASTIC_BULK_SINK_BIN`;

function request(agent, base, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, agent, headers: body === undefined ? {} : { 'content-type': 'application/x-ndjson' } }, (res) => {
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

test('elastic-bulk-sink answers the calls iot-collector makes and exits 0 on SIGTERM', { skip, timeout: 20_000 }, async () => {
  const sink = spawn(sinkBin, ['0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(sink, 'exit');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const [line] = await once(createInterface({ input: sink.stdout }), 'line');
    const base = JSON.parse(line).listening;
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);

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
  } finally {
    agent.destroy();
    sink.kill('SIGTERM');
    const [code, signal] = await exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
  }
});
