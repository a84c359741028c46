// Tests of the Elasticsearch test server, with plain HTTP clients only (node:http/https and
// fetch). Every wait is bounded: requests have a client timeout and server-side conditions are
// awaited with controller.waitFor (event driven, with a deadline), never with sleeps.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startElasticTestServer } from './server.mjs';
import { makeTestCertificates } from './certificates.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const NDJSON = { 'Content-Type': 'application/x-ndjson' };
const JSON_CT = { 'Content-Type': 'application/json' };

// One HTTP(S) request; resolves {status, headers, text, json} or rejects with the socket error.
function request(base, { method = 'GET', path: p = '/', headers = {}, body, agent, ca, timeoutMs = 5000, raw = false } = {}) {
  const url = new URL(p, base);
  const mod = url.protocol === 'https:' ? https : http;
  // Node's client sends a GET body with neither Content-Length nor chunked encoding.
  const allHeaders = body === undefined ? headers : { 'Content-Length': Buffer.byteLength(body), ...headers };
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers: allHeaders, agent: agent ?? false, ca }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let buf = Buffer.concat(chunks);
        if (!raw && res.headers['content-encoding'] === 'gzip') buf = zlib.gunzipSync(buf);
        const text = buf.toString('utf8');
        let json;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json, bytes: buf });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

function ndjson(...objs) {
  return objs.map((o) => (typeof o === 'string' ? o : JSON.stringify(o))).join('\n') + '\n';
}

async function start(t, options) {
  const es = await startElasticTestServer(options);
  t.after(() => es.stop());
  return es;
}

const bulk = (es, body, extra = {}) => request(es.url, { method: 'POST', path: extra.path ?? '/_bulk', headers: { ...NDJSON, ...extra.headers }, body, agent: extra.agent });
const put = (es, p, obj) => request(es.url, { method: 'PUT', path: p, headers: JSON_CT, body: JSON.stringify(obj) });

const STREAM_TEMPLATE = {
  index_patterns: ['iot-events'],
  data_stream: {},
  priority: 200,
  template: {
    settings: { 'index.lifecycle.name': 'iot-events-policy' },
    mappings: {
      properties: {
        '@timestamp': { type: 'date' },
        received_at: { type: 'date' },
        sender: { type: 'keyword' },
        value_number: { type: 'double' },
        count: { type: 'long' },
        small: { type: 'integer' },
        payload: { properties: { type: { type: 'keyword' }, value: { type: 'object', enabled: false } } },
      },
    },
  },
};
const event = (i, extra = {}) => ({ '@timestamp': '2026-11-22T10:00:00.000Z', sender: `dev-${i}`, payload: { type: 'temperature', value: i }, value_number: i, ...extra });

async function withStream(t, options) {
  const es = await start(t, options);
  assert.equal((await put(es, '/_index_template/iot-events', STREAM_TEMPLATE)).status, 200);
  return es;
}

// ---------------------------------------------------------------------------------------------
describe('cluster APIs and HTTP conventions', () => {
  test('GET / answers cluster info with the product header', async (t) => {
    const es = await start(t);
    const res = await fetch(es.url + '/');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-elastic-product'), 'Elasticsearch');
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const body = await res.json();
    assert.equal(body.version.number, '8.15.0');
    assert.equal(body.version.build_flavor, 'default');
    assert.equal(body.tagline, 'You Know, for Search');
    assert.ok(body.name && body.cluster_name && body.cluster_uuid);
  });

  test('HEAD / answers 200 without a body', async (t) => {
    const es = await start(t);
    const res = await request(es.url, { method: 'HEAD', path: '/' });
    assert.equal(res.status, 200);
    assert.equal(res.text, '');
    assert.equal(res.headers['x-elastic-product'], 'Elasticsearch');
  });

  test('GET /_cluster/health is green', async (t) => {
    const es = await start(t);
    const body = await (await fetch(es.url + '/_cluster/health')).json();
    assert.equal(body.status, 'green');
    assert.equal(body.number_of_nodes, 1);
    assert.equal(body.timed_out, false);
  });

  test('compatible-with=8 media types are accepted and echoed', async (t) => {
    const es = await withStream(t);
    const vnd = 'application/vnd.elasticsearch+x-ndjson; compatible-with=8';
    const res = await request(es.url, {
      method: 'POST',
      path: '/_bulk',
      headers: { 'Content-Type': vnd, Accept: 'application/vnd.elasticsearch+json; compatible-with=8' },
      body: ndjson({ create: { _index: 'iot-events' } }, event(1)),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/vnd.elasticsearch+json;compatible-with=8');
    assert.equal(res.json.errors, false);
    const info = await request(es.url, { headers: { Accept: 'application/vnd.elasticsearch+json;compatible-with=8' } });
    assert.equal(info.headers['content-type'], 'application/vnd.elasticsearch+json;compatible-with=8');
  });

  test('an unsupported compatible-with version is 400 media_type_header_exception', async (t) => {
    const es = await start(t);
    const res = await request(es.url, { headers: { Accept: 'application/vnd.elasticsearch+json; compatible-with=9' } });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.type, 'media_type_header_exception');
  });

  test('unknown routes are 404 and wrong methods 405, with Elasticsearch error bodies', async (t) => {
    const es = await start(t);
    const unknown = await request(es.url, { path: '/_nope/really' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers['x-elastic-product'], 'Elasticsearch');
    assert.deepEqual(unknown.json, { error: 'no handler found for uri [/_nope/really] and method [GET]', status: 404 });
    const wrong = await request(es.url, { path: '/_bulk' });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, 'POST,PUT');
    assert.match(wrong.json.error, /Incorrect HTTP method for uri \[\/_bulk\] and method \[GET\], allowed: \[POST, PUT\]/);
  });

  test('a missing index is 404 index_not_found_exception', async (t) => {
    const es = await start(t);
    const res = await request(es.url, { path: '/nothing-here/_count' });
    assert.equal(res.status, 404);
    assert.equal(res.json.error.type, 'index_not_found_exception');
    assert.equal(res.json.error.reason, 'no such index [nothing-here]');
    assert.equal(res.json.status, 404);
  });

  test('bodies above maxContentLength are refused with 413', async (t) => {
    const es = await start(t, { maxContentLength: 1024 });
    const res = await bulk(es, ndjson({ index: { _index: 'x' } }, { s: 'a'.repeat(2000) }));
    assert.equal(res.status, 413);
    assert.equal(es.documents('x').length, 0);
  });
});

// ---------------------------------------------------------------------------------------------
describe('index templates and ILM policies', () => {
  test('PUT/GET _index_template records the body and answers like Elasticsearch', async (t) => {
    const es = await start(t);
    const res = await put(es, '/_index_template/iot-events', STREAM_TEMPLATE);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { acknowledged: true });
    assert.deepEqual(es.templates.get('iot-events'), STREAM_TEMPLATE);
    const got = await request(es.url, { path: '/_index_template/iot-events' });
    assert.equal(got.status, 200);
    assert.equal(got.json.index_templates.length, 1);
    assert.equal(got.json.index_templates[0].name, 'iot-events');
    assert.deepEqual(got.json.index_templates[0].index_template.template, STREAM_TEMPLATE.template);
    assert.deepEqual(got.json.index_templates[0].index_template.index_patterns, ['iot-events']);
    const all = await request(es.url, { path: '/_index_template' });
    assert.equal(all.json.index_templates.length, 1);
    const head = await request(es.url, { method: 'HEAD', path: '/_index_template/iot-events' });
    assert.equal(head.status, 200);
  });

  test('GET of a missing template is 404', async (t) => {
    const es = await start(t);
    const res = await request(es.url, { path: '/_index_template/missing' });
    assert.equal(res.status, 404);
    assert.equal(res.json.error.type, 'resource_not_found_exception');
    assert.equal(res.json.error.reason, 'index template matching [missing] not found');
  });

  test('invalid templates are refused as a real cluster refuses them', async (t) => {
    const es = await start(t);
    const noPatterns = await put(es, '/_index_template/a', { template: {} });
    assert.equal(noPatterns.status, 400);
    assert.equal(noPatterns.json.error.type, 'action_request_validation_exception');
    assert.match(noPatterns.json.error.reason, /index patterns are missing/);

    const unknownField = await put(es, '/_index_template/a', { index_patterns: ['a'], mappings: {} });
    assert.equal(unknownField.status, 400);
    assert.equal(unknownField.json.error.type, 'x_content_parse_exception');
    assert.match(unknownField.json.error.reason, /unknown field \[mappings\]/);

    const badType = await put(es, '/_index_template/a', { index_patterns: ['a'], template: { mappings: { properties: { x: { type: 'doubel' } } } } });
    assert.equal(badType.status, 400);
    assert.equal(badType.json.error.type, 'mapper_parsing_exception');
    assert.match(badType.json.error.reason, /No handler for type \[doubel\] declared on field \[x\]/);

    const badParam = await put(es, '/_index_template/a', { index_patterns: ['a'], template: { mappings: { properties: { x: { type: 'double', ignore_above: 10 } } } } });
    assert.equal(badParam.status, 400);
    assert.match(badParam.json.error.reason, /unknown parameter \[ignore_above\] on mapper \[x\] of type \[double\]/);

    const badJson = await request(es.url, { method: 'PUT', path: '/_index_template/a', headers: JSON_CT, body: '{"index_patterns":' });
    assert.equal(badJson.status, 400);

    assert.equal((await put(es, '/_index_template/one', { index_patterns: ['logs-*'] })).status, 200);
    const overlap = await put(es, '/_index_template/two', { index_patterns: ['logs-app'] });
    assert.equal(overlap.status, 400);
    assert.match(overlap.json.error.reason, /same priority \[0\]/);
    assert.equal((await put(es, '/_index_template/two', { index_patterns: ['logs-app'], priority: 10 })).status, 200);
    assert.deepEqual([...es.templates.keys()], ['one', 'two']);
  });

  test('PUT/GET _ilm/policy records the policy, versions it, and 404s when missing', async (t) => {
    const es = await start(t);
    const body = {
      policy: {
        phases: {
          hot: { actions: { rollover: { max_age: '1d', max_primary_shard_size: '50gb' } } },
          delete: { min_age: '30d', actions: { delete: {} } },
        },
      },
    };
    const res = await put(es, '/_ilm/policy/iot-events-policy', body);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { acknowledged: true });
    assert.deepEqual(es.policies.get('iot-events-policy'), body);
    let got = await request(es.url, { path: '/_ilm/policy/iot-events-policy' });
    assert.equal(got.status, 200);
    assert.equal(got.json['iot-events-policy'].version, 1);
    assert.deepEqual(got.json['iot-events-policy'].policy, body.policy);
    assert.ok(!Number.isNaN(Date.parse(got.json['iot-events-policy'].modified_date)));
    await put(es, '/_ilm/policy/iot-events-policy', body);
    got = await request(es.url, { path: '/_ilm/policy/iot-events-policy' });
    assert.equal(got.json['iot-events-policy'].version, 2);
    const missing = await request(es.url, { path: '/_ilm/policy/nope' });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.type, 'resource_not_found_exception');
  });

  test('invalid ILM policies are refused', async (t) => {
    const es = await start(t);
    const badAction = await put(es, '/_ilm/policy/p', { policy: { phases: { delete: { actions: { rollover: { max_age: '1d' } } } } } });
    assert.equal(badAction.status, 400);
    assert.equal(badAction.json.error.reason, 'invalid action [rollover] defined in phase [delete]');
    const noCondition = await put(es, '/_ilm/policy/p', { policy: { phases: { hot: { actions: { rollover: {} } } } } });
    assert.equal(noCondition.status, 400);
    assert.match(noCondition.json.error.reason, /At least one max_\* rollover condition/);
    const badSize = await put(es, '/_ilm/policy/p', { policy: { phases: { hot: { actions: { rollover: { max_primary_shard_size: '50 gigs' } } } } } });
    assert.equal(badSize.status, 400);
    const noPolicy = await put(es, '/_ilm/policy/p', { phases: {} });
    assert.equal(noPolicy.status, 400);
    assert.equal(es.policies.size, 0);
  });
});

// ---------------------------------------------------------------------------------------------
describe('bulk API', () => {
  test('index, create, update and delete on a regular index, items in request order', async (t) => {
    const es = await start(t);
    const res = await bulk(
      es,
      ndjson(
        { index: { _index: 'plain', _id: '1' } }, { a: 1 },
        { create: { _index: 'plain', _id: '2' } }, { a: 2 },
        { index: { _index: 'plain', _id: '1' } }, { a: 10 },
        { update: { _index: 'plain', _id: '2' } }, { doc: { b: 3 } },
        { delete: { _index: 'plain', _id: '1' } },
        { delete: { _index: 'plain', _id: 'missing' } },
      ),
    );
    assert.equal(res.status, 200);
    assert.equal(typeof res.json.took, 'number');
    assert.equal(res.json.errors, false);
    const items = res.json.items;
    assert.deepEqual(items.map((i) => Object.keys(i)[0]), ['index', 'create', 'index', 'update', 'delete', 'delete']);
    assert.deepEqual(items[0].index, { _index: 'plain', _id: '1', _version: 1, result: 'created', _shards: { total: 1, successful: 1, failed: 0 }, _seq_no: 0, _primary_term: 1, status: 201 });
    assert.equal(items[2].index.result, 'updated');
    assert.equal(items[2].index._version, 2);
    assert.equal(items[2].index.status, 200);
    assert.equal(items[3].update.result, 'updated');
    assert.equal(items[4].delete.result, 'deleted');
    assert.equal(items[5].delete.result, 'not_found');
    assert.equal(items[5].delete.status, 404);
    assert.deepEqual(items.map((i) => Object.values(i)[0]._seq_no), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(es.documents('plain').map((d) => [d._id, d._source]), [['2', { a: 2, b: 3 }]]);
  });

  test('the URL index is the default _index; missing _id gets a 20-character base64url id', async (t) => {
    const es = await start(t);
    const res = await bulk(es, ndjson({ index: {} }, { a: 1 }, { create: { _index: 'other' } }, { a: 2 }), { path: '/byurl/_bulk' });
    assert.equal(res.json.errors, false);
    assert.equal(res.json.items[0].index._index, 'byurl');
    assert.equal(res.json.items[1].create._index, 'other');
    for (const it of res.json.items) assert.match(Object.values(it)[0]._id, /^[A-Za-z0-9_-]{20}$/);
    assert.equal(es.documents('byurl')[0]._id, res.json.items[0].index._id);
    assert.deepEqual([...es.allDocuments().keys()].sort(), ['byurl', 'other']);
  });

  test('Expect: 100-continue (libcurl sends it for large bodies) is honoured', async (t) => {
    const es = await start(t);
    const body = ndjson({ index: { _index: 'exp' } }, { a: 1 });
    const res = await new Promise((resolve, reject) => {
      const req = http.request(new URL('/_bulk', es.url), { method: 'POST', agent: false, headers: { ...NDJSON, 'Content-Length': Buffer.byteLength(body), Expect: '100-continue' } });
      req.setTimeout(5000, () => req.destroy(new Error('client timeout')));
      req.on('continue', () => req.end(body));
      req.on('response', (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode));
      });
      req.on('error', reject);
    });
    assert.equal(res, 200);
    assert.equal(es.documents('exp').length, 1);
  });

  test('PUT /_bulk works like POST', async (t) => {
    const es = await start(t);
    const res = await request(es.url, { method: 'PUT', path: '/_bulk', headers: NDJSON, body: ndjson({ index: { _index: 'p' } }, { a: 1 }) });
    assert.equal(res.status, 200);
    assert.equal(es.documents('p').length, 1);
  });

  test('a body without a final newline is refused whole', async (t) => {
    const es = await start(t);
    const res = await bulk(es, '{"index":{"_index":"x"}}\n{"a":1}');
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, {
      error: {
        root_cause: [{ type: 'illegal_argument_exception', reason: 'The bulk request must be terminated by a newline [\\n]' }],
        type: 'illegal_argument_exception',
        reason: 'The bulk request must be terminated by a newline [\\n]',
      },
      status: 400,
    });
    assert.equal(es.documents('x').length, 0);
  });

  test('Content-Type must be NDJSON or JSON (406 otherwise, as Elasticsearch)', async (t) => {
    const es = await start(t);
    const body = ndjson({ index: { _index: 'x' } }, { a: 1 });
    const plain = await request(es.url, { method: 'POST', path: '/_bulk', headers: { 'Content-Type': 'text/plain' }, body });
    assert.equal(plain.status, 406);
    assert.deepEqual(plain.json, { error: 'Content-Type header [text/plain] is not supported', status: 406 });
    const missing = await request(es.url, { method: 'POST', path: '/_bulk', body });
    assert.equal(missing.status, 406);
    assert.deepEqual(missing.json, { error: 'Content-Type header is missing', status: 406 });
    const json = await request(es.url, { method: 'POST', path: '/_bulk', headers: { 'Content-Type': 'application/json; charset=UTF-8' }, body });
    assert.equal(json.status, 200);
    assert.equal(es.documents('x').length, 1);
  });

  test('gzip and deflate request bodies are decompressed; a corrupt one is 400', async (t) => {
    const es = await start(t);
    const body = ndjson({ index: { _index: 'z' } }, { a: 1 });
    const gz = await bulk(es, zlib.gzipSync(body), { headers: { 'Content-Encoding': 'gzip' } });
    assert.equal(gz.status, 200);
    const df = await bulk(es, zlib.deflateSync(body), { headers: { 'Content-Encoding': 'deflate' } });
    assert.equal(df.status, 200);
    assert.equal(es.documents('z').length, 2);
    assert.equal(es.requests[0].body, body, 'the request log holds the decompressed body');
    const bad = await bulk(es, Buffer.from('not gzip at all'), { headers: { 'Content-Encoding': 'gzip' } });
    assert.equal(bad.status, 400);
  });

  test('responses are gzip-compressed when the client accepts it (plain HTTP)', async (t) => {
    const es = await start(t);
    const res = await request(es.url, { path: '/', headers: { 'Accept-Encoding': 'gzip' }, raw: true });
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(JSON.parse(zlib.gunzipSync(res.bytes)).tagline, 'You Know, for Search');
    const plain = await request(es.url, { path: '/' });
    assert.equal(plain.headers['content-encoding'], undefined);
  });

  test('create of an existing _id is a 409 item; the rest of the request is stored', async (t) => {
    const es = await start(t);
    await bulk(es, ndjson({ create: { _index: 'c', _id: 'dup' } }, { n: 1 }));
    const res = await bulk(es, ndjson({ create: { _index: 'c', _id: 'dup' } }, { n: 2 }, { create: { _index: 'c', _id: 'new' } }, { n: 3 }));
    assert.equal(res.json.errors, true);
    const conflict = res.json.items[0].create;
    assert.equal(conflict.status, 409);
    assert.equal(conflict.error.type, 'version_conflict_engine_exception');
    assert.equal(conflict.error.reason, '[dup]: version conflict, document already exists (current version [1])');
    assert.equal(res.json.items[1].create.status, 201);
    assert.deepEqual(es.documents('c').map((d) => d._source.n), [1, 3]);
  });

  test('a source line that is not a JSON object is a 400 mapper_parsing_exception item', async (t) => {
    const es = await start(t);
    const res = await bulk(es, ndjson({ index: { _index: 'm' } }, '[1,2]', { index: { _index: 'm' } }, '"text"', { index: { _index: 'm' } }, '{broken', { index: { _index: 'm' } }, { ok: true }));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.items.map((i) => i.index.status), [400, 400, 400, 201]);
    for (const it of res.json.items.slice(0, 3)) assert.equal(it.index.error.type, 'mapper_parsing_exception');
    assert.equal(es.documents('m').length, 1);
  });

  test('malformed action lines, unknown parameters and missing indices fail the whole request', async (t) => {
    const es = await start(t);
    const notJson = await bulk(es, 'nope\n');
    assert.equal(notJson.status, 400);
    const unknownAction = await bulk(es, ndjson({ upsert: { _index: 'a' } }, { a: 1 }));
    assert.equal(unknownAction.status, 400);
    assert.match(unknownAction.json.error.reason, /expected field \[create\], \[delete\], \[index\] or \[update\] but found \[upsert\]/);
    const unknownParam = await bulk(es, ndjson({ index: { _index: 'a', _type: '_doc' } }, { a: 1 }));
    assert.equal(unknownParam.status, 400);
    assert.equal(unknownParam.json.error.reason, 'Action/metadata line [1] contains an unknown parameter [_type]');
    const noIndex = await bulk(es, ndjson({ index: {} }, { a: 1 }));
    assert.equal(noIndex.status, 400);
    assert.equal(noIndex.json.error.type, 'action_request_validation_exception');
    assert.equal(noIndex.json.error.reason, 'Validation Failed: 1: index is missing;');
    const empty = await bulk(es, '\n');
    assert.equal(empty.status, 400);
    assert.match(empty.json.error.reason, /no requests added/);
    assert.equal(es.allDocuments().size, 0);
  });

  test('an invalid index name is a 400 item', async (t) => {
    const es = await start(t);
    const res = await bulk(es, ndjson({ index: { _index: 'Upper' } }, { a: 1 }, { index: { _index: 'ok' } }, { a: 1 }));
    assert.equal(res.json.items[0].index.status, 400);
    assert.equal(res.json.items[0].index.error.type, 'invalid_index_name_exception');
    assert.equal(res.json.items[1].index.status, 201);
  });

  test('update: partial doc merge, noop, missing document, upsert', async (t) => {
    const es = await start(t);
    await bulk(es, ndjson({ index: { _index: 'u', _id: '1' } }, { a: { b: 1, c: 2 } }));
    const res = await bulk(
      es,
      ndjson(
        { update: { _index: 'u', _id: '1' } }, { doc: { a: { c: 3 } } },
        { update: { _index: 'u', _id: '1' } }, { doc: { a: { c: 3 } } },
        { update: { _index: 'u', _id: 'none' } }, { doc: { x: 1 } },
        { update: { _index: 'u', _id: 'ups' } }, { doc: { x: 1 }, doc_as_upsert: true },
      ),
    );
    const [merged, noop, missing, upsert] = res.json.items.map((i) => i.update);
    assert.equal(merged.result, 'updated');
    assert.equal(merged._version, 2);
    assert.equal(noop.result, 'noop');
    assert.equal(missing.status, 404);
    assert.equal(missing.error.type, 'document_missing_exception');
    assert.equal(upsert.status, 201);
    assert.deepEqual(es.documents('u').find((d) => d._id === '1')._source, { a: { b: 1, c: 3 } });
  });

  test('if_seq_no / if_primary_term conflicts are 409', async (t) => {
    const es = await start(t);
    await bulk(es, ndjson({ index: { _index: 'o', _id: '1' } }, { a: 1 }));
    const res = await bulk(es, ndjson({ index: { _index: 'o', _id: '1', if_seq_no: 5, if_primary_term: 1 } }, { a: 2 }, { index: { _index: 'o', _id: '1', if_seq_no: 0, if_primary_term: 1 } }, { a: 3 }));
    assert.equal(res.json.items[0].index.status, 409);
    assert.equal(res.json.items[1].index.status, 200);
  });

  test('filter_path trims the answer as Elasticsearch does', async (t) => {
    const es = await start(t);
    const res = await bulk(es, ndjson({ create: { _index: 'f', _id: '1' } }, { a: 1 }, { create: { _index: 'f', _id: '1' } }, { a: 1 }), { path: '/_bulk?filter_path=errors,items.*.status,items.*.error.type' });
    assert.deepEqual(res.json, { errors: true, items: [{ create: { status: 201 } }, { create: { status: 409, error: { type: 'version_conflict_engine_exception' } } }] });
  });
});

// ---------------------------------------------------------------------------------------------
describe('data streams', () => {
  test('create into a data stream: backing index in items, documents by stream name', async (t) => {
    const es = await withStream(t);
    const res = await bulk(es, ndjson({ create: { _index: 'iot-events', _id: 'e1' } }, event(1), { create: { _index: 'iot-events' } }, event(2)));
    assert.equal(res.status, 200);
    assert.equal(res.json.errors, false);
    for (const it of res.json.items) {
      assert.match(it.create._index, /^\.ds-iot-events-\d{4}\.\d{2}\.\d{2}-000001$/);
      assert.equal(it.create.result, 'created');
      assert.equal(it.create._version, 1);
      assert.equal(it.create.status, 201);
    }
    const docs = es.documents('iot-events');
    assert.equal(docs.length, 2);
    assert.deepEqual(docs[0]._source, event(1));
    assert.equal(docs[0]._id, 'e1');
    assert.deepEqual([...es.allDocuments().keys()], ['iot-events']);
    const ds = await request(es.url, { path: '/_data_stream/iot-events' });
    assert.equal(ds.status, 200);
    assert.equal(ds.json.data_streams[0].name, 'iot-events');
    assert.equal(ds.json.data_streams[0].indices[0].index_name, res.json.items[0].create._index);
    assert.equal(ds.json.data_streams[0].ilm_policy, 'iot-events-policy');
  });

  test('only create is allowed on a data stream', async (t) => {
    const es = await withStream(t);
    const res = await bulk(es, ndjson({ index: { _index: 'iot-events' } }, event(1), { update: { _index: 'iot-events', _id: 'x' } }, { doc: {} }, { delete: { _index: 'iot-events', _id: 'x' } }));
    for (const it of res.json.items) {
      const r = Object.values(it)[0];
      assert.equal(r.status, 400);
      assert.equal(r.error.type, 'illegal_argument_exception');
      assert.equal(r.error.reason, 'only write ops with an op_type of create are allowed in data streams');
    }
    assert.equal(es.documents('iot-events').length, 0);
  });

  test('a document without @timestamp is refused by a data stream', async (t) => {
    const es = await withStream(t);
    const res = await bulk(es, ndjson({ create: { _index: 'iot-events' } }, { sender: 'x' }));
    assert.equal(res.json.items[0].create.status, 400);
    assert.equal(res.json.items[0].create.error.type, 'document_parsing_exception');
    assert.match(res.json.items[0].create.error.reason, /data stream timestamp field \[@timestamp\] is missing/);
  });

  test('create with an _id already in the stream is 409 (the no-loss retry relies on it)', async (t) => {
    const es = await withStream(t);
    await bulk(es, ndjson({ create: { _index: 'iot-events', _id: 'same' } }, event(1)));
    const res = await bulk(es, ndjson({ create: { _index: 'iot-events', _id: 'same' } }, event(1)));
    assert.equal(res.json.items[0].create.status, 409);
    assert.equal(res.json.items[0].create.error.type, 'version_conflict_engine_exception');
    assert.equal(es.documents('iot-events').length, 1);
  });

  test('PUT _data_stream creates the stream explicitly; without a template it is refused', async (t) => {
    const es = await withStream(t);
    assert.equal((await request(es.url, { method: 'PUT', path: '/_data_stream/iot-events' })).status, 200);
    assert.equal((await request(es.url, { method: 'PUT', path: '/_data_stream/iot-events' })).status, 400);
    assert.equal((await request(es.url, { method: 'PUT', path: '/_data_stream/other' })).status, 400);
    assert.equal((await request(es.url, { path: '/_data_stream/missing' })).status, 404);
  });
});

// ---------------------------------------------------------------------------------------------
describe('mapping checks (dead-letter path)', () => {
  const item = (res, i = 0) => Object.values(res.json.items[i])[0];

  test('a non-numeric string in a double field is document_parsing_exception', async (t) => {
    const es = await withStream(t);
    const res = await bulk(es, ndjson({ create: { _index: 'iot-events', _id: 'bad' } }, event(1, { value_number: 'warm' }), { create: { _index: 'iot-events', _id: 'good' } }, event(2, { value_number: '21.5' })));
    const bad = item(res, 0);
    assert.equal(bad.status, 400);
    assert.equal(bad.error.type, 'document_parsing_exception');
    assert.match(bad.error.reason, /^\[1:\d+\] failed to parse field \[value_number\] of type \[double\] in document with id 'bad'\./);
    assert.equal(item(res, 1).status, 201, 'a numeric string is coerced');
    assert.deepEqual(es.documents('iot-events').map((d) => d._id), ['good']);
  });

  test('dates, longs, integers and booleans are checked; enabled:false accepts anything', async (t) => {
    const es = await withStream(t);
    const cases = [
      [{ received_at: 'yesterday' }, 400, /of type \[date\]/],
      [{ received_at: '2026-13-01T00:00:00Z' }, 400, /of type \[date\]/],
      [{ received_at: 1764000000000 }, 201],
      [{ received_at: '2026-11-22' }, 201],
      [{ count: 'many' }, 400, /of type \[long\]/],
      [{ count: '42' }, 201],
      [{ small: 3e10 }, 400, /of type \[integer\]/],
      [{ value_number: true }, 400, /of type \[double\]/],
      [{ sender: { nested: 1 } }, 400, /of type \[keyword\]/],
      [{ payload: { type: 't', value: { any: ['thing', 1, null] } } }, 201],
      [{ payload: { type: 't', value: 'text' } }, 201],
      [{ payload: 'flat' }, 400, /tried to parse field \[payload\] as object/],
      [{ 'payload.type': { x: 1 } }, 400, /failed to parse field \[payload.type\] of type \[keyword\]/],
      [{ undeclared: { deep: 'anything' } }, 201],
      [{ value_number: [1, 'x'] }, 400, /of type \[double\]/],
      [{ value_number: null }, 201],
    ];
    const body = ndjson(...cases.flatMap(([extra]) => [{ create: { _index: 'iot-events' } }, event(0, extra)]));
    const res = await bulk(es, body);
    cases.forEach(([extra, status, reason], i) => {
      const it = item(res, i);
      assert.equal(it.status, status, `case ${JSON.stringify(extra)}: ${JSON.stringify(it.error)}`);
      if (reason) {
        assert.equal(it.error.type, 'document_parsing_exception');
        assert.match(it.error.reason, reason);
      }
    });
  });

  test('dynamic: strict refuses undeclared fields', async (t) => {
    const es = await start(t);
    await put(es, '/_index_template/strict', { index_patterns: ['strict'], template: { mappings: { dynamic: 'strict', properties: { a: { type: 'keyword' } } } } });
    const res = await bulk(es, ndjson({ index: { _index: 'strict' } }, { a: 'x' }, { index: { _index: 'strict' } }, { b: 'x' }));
    assert.equal(item(res, 0).status, 201);
    assert.equal(item(res, 1).status, 400);
    assert.equal(item(res, 1).error.type, 'strict_dynamic_mapping_exception');
  });

  test('mappings come from the template at index creation, as in Elasticsearch', async (t) => {
    const es = await start(t);
    await bulk(es, ndjson({ index: { _index: 'early' } }, { n: 'text' }));
    await put(es, '/_index_template/early', { index_patterns: ['early'], template: { mappings: { properties: { n: { type: 'long' } } } } });
    const res = await bulk(es, ndjson({ index: { _index: 'early' } }, { n: 'still text' }));
    assert.equal(item(res).status, 201, 'the existing index has no mapping for n');
  });
});

// ---------------------------------------------------------------------------------------------
describe('count and search (verify tooling)', () => {
  async function seeded(t, options) {
    const es = await withStream(t, options);
    const docs = [];
    for (let i = 0; i < 6; i++) docs.push({ create: { _index: 'iot-events', _id: `id-${i}` } }, event(i, { run: i < 4 ? 'run-a' : 'run-b', event_id: `e-${i % 3}` }));
    assert.equal((await bulk(es, ndjson(...docs))).json.errors, false);
    return es;
  }

  test('_count: all, q=field:value, term query in the body', async (t) => {
    const es = await seeded(t);
    assert.equal((await request(es.url, { path: '/iot-events/_count' })).json.count, 6);
    assert.equal((await request(es.url, { path: '/iot-events/_count?q=run:run-a' })).json.count, 4);
    assert.equal((await request(es.url, { path: '/iot-events/_count?q=run:"run-b"' })).json.count, 2);
    const body = await request(es.url, { method: 'POST', path: '/iot-events/_count', headers: JSON_CT, body: JSON.stringify({ query: { term: { run: 'run-a' } } }) });
    assert.equal(body.json.count, 4);
    const getBody = await request(es.url, { method: 'GET', path: '/iot-events/_count', headers: JSON_CT, body: JSON.stringify({ query: { term: { 'payload.type': { value: 'temperature' } } } }) });
    assert.equal(getBody.json.count, 6);
    assert.equal((await request(es.url, { path: '/iot-*/_count' })).json.count, 6);
    assert.equal((await request(es.url, { path: '/_count' })).json.count, 6);
  });

  test('_search: term query with size, bool and range, sort, hits in Elasticsearch shape', async (t) => {
    const es = await seeded(t);
    const res = await request(es.url, { method: 'POST', path: '/iot-events/_search', headers: JSON_CT, body: JSON.stringify({ query: { term: { run: 'run-a' } }, size: 2 }) });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.hits.total, { value: 4, relation: 'eq' });
    assert.equal(res.json.hits.hits.length, 2);
    const hit = res.json.hits.hits[0];
    assert.match(hit._index, /^\.ds-iot-events-/);
    assert.equal(hit._id, 'id-0');
    assert.equal(hit._source.sender, 'dev-0');
    const boolRes = await request(es.url, {
      method: 'POST',
      path: '/iot-events/_search',
      headers: JSON_CT,
      body: JSON.stringify({ query: { bool: { filter: [{ range: { value_number: { gte: 2 } } }], must_not: { term: { _id: 'id-5' } } } }, sort: [{ value_number: 'desc' }] }),
    });
    assert.deepEqual(boolRes.json.hits.hits.map((h) => h._id), ['id-4', 'id-3', 'id-2']);
    const ids = await request(es.url, { method: 'POST', path: '/iot-events/_search', headers: JSON_CT, body: JSON.stringify({ query: { ids: { values: ['id-1', 'nope'] } } }) });
    assert.deepEqual(ids.json.hits.hits.map((h) => h._id), ['id-1']);
  });

  test('terms aggregation finds duplicates by a field', async (t) => {
    const es = await seeded(t);
    const res = await request(es.url, {
      method: 'POST',
      path: '/iot-events/_search',
      headers: JSON_CT,
      body: JSON.stringify({ size: 0, query: { term: { run: 'run-a' } }, aggs: { dups: { terms: { field: 'event_id', min_doc_count: 2, size: 100 } }, distinct: { cardinality: { field: 'event_id' } } } }),
    });
    assert.equal(res.json.hits.hits.length, 0);
    assert.deepEqual(res.json.aggregations.dups.buckets, [{ key: 'e-0', doc_count: 2 }]);
    assert.equal(res.json.aggregations.distinct.value, 3);
  });

  test('terms aggregation on _id is refused by default, as in Elasticsearch 8; allowIdFieldData enables it', async (t) => {
    const es = await seeded(t);
    const body = JSON.stringify({ size: 0, aggs: { ids: { terms: { field: '_id', min_doc_count: 2 } } } });
    const refused = await request(es.url, { method: 'POST', path: '/iot-events/_search', headers: JSON_CT, body });
    assert.equal(refused.status, 400);
    assert.match(refused.json.error.caused_by.reason, /Fielddata access on the _id field is disallowed/);
    const es2 = await seeded(t, { allowIdFieldData: true });
    const allowed = await request(es2.url, { method: 'POST', path: '/iot-events/_search', headers: JSON_CT, body });
    assert.equal(allowed.status, 200);
    assert.deepEqual(allowed.json.aggregations.ids.buckets, []);
  });

  test('an unknown query type is a 400 parsing_exception', async (t) => {
    const es = await seeded(t);
    const res = await request(es.url, { method: 'POST', path: '/iot-events/_search', headers: JSON_CT, body: JSON.stringify({ query: { fuzzy_thing: {} } }) });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.type, 'parsing_exception');
  });

  test('GET /<index>/_doc/<id>, refresh, index existence', async (t) => {
    const es = await start(t);
    await bulk(es, ndjson({ index: { _index: 'docs', _id: 'a' } }, { v: 1 }));
    const doc = await request(es.url, { path: '/docs/_doc/a' });
    assert.equal(doc.json.found, true);
    assert.deepEqual(doc.json._source, { v: 1 });
    assert.equal((await request(es.url, { path: '/docs/_doc/b' })).status, 404);
    assert.equal((await request(es.url, { method: 'POST', path: '/docs/_refresh' })).status, 200);
    assert.equal((await request(es.url, { method: 'HEAD', path: '/docs' })).status, 200);
    assert.equal((await request(es.url, { method: 'HEAD', path: '/nope' })).status, 404);
  });
});

// ---------------------------------------------------------------------------------------------
describe('authentication', () => {
  const b64 = (s) => Buffer.from(s).toString('base64');

  test('API key: missing or wrong credentials are 401 with WWW-Authenticate; the right key passes', async (t) => {
    const es = await start(t, { auth: { apiKey: 'key-id:key-secret' } });
    const none = await request(es.url, { path: '/' });
    assert.equal(none.status, 401);
    assert.equal(none.json.error.type, 'security_exception');
    assert.equal(none.json.error.reason, 'missing authentication credentials for REST request [/]');
    assert.ok([none.headers['www-authenticate']].flat().join(',').includes('ApiKey'));
    assert.equal(none.headers['x-elastic-product'], 'Elasticsearch');
    const wrong = await request(es.url, { path: '/', headers: { Authorization: `ApiKey ${b64('key-id:nope')}` } });
    assert.equal(wrong.status, 401);
    const right = await request(es.url, { path: '/', headers: { Authorization: `ApiKey ${b64('key-id:key-secret')}` } });
    assert.equal(right.status, 200);
    assert.deepEqual(es.requests.map((r) => r.headers.authorization), [undefined, 'ApiKey', 'ApiKey'], 'credentials are redacted to the scheme');
  });

  test('API key configured as the encoded value is compared as sent', async (t) => {
    const encoded = b64('id:secret');
    const es = await start(t, { auth: { apiKey: encoded } });
    assert.equal((await request(es.url, { path: '/', headers: { Authorization: `ApiKey ${encoded}` } })).status, 200);
    assert.equal((await request(es.url, { path: '/', headers: { Authorization: `ApiKey ${b64('id:other')}` } })).status, 401);
  });

  test('basic auth', async (t) => {
    const es = await start(t, { auth: { username: 'elastic', password: 'changeme' } });
    assert.equal((await request(es.url, { path: '/', headers: { Authorization: `Basic ${b64('elastic:changeme')}` } })).status, 200);
    const bad = await request(es.url, { path: '/', headers: { Authorization: `Basic ${b64('elastic:wrong')}` } });
    assert.equal(bad.status, 401);
    assert.equal(bad.json.error.reason, 'unable to authenticate user [elastic] for REST request [/]');
    const bulkRes = await bulk(es, ndjson({ index: { _index: 'a' } }, { a: 1 }));
    assert.equal(bulkRes.status, 401);
    assert.equal(es.documents('a').length, 0);
  });
});

// ---------------------------------------------------------------------------------------------
describe('fault injection', () => {
  const body = (n, index = 'f') => ndjson(...Array.from({ length: n }, (_, i) => [{ create: { _index: index, _id: `d${i}` } }, { i }]).flat());

  test('bulkStatus: the next N bulk requests get the status and store nothing', async (t) => {
    const es = await start(t);
    es.faults.bulkStatus(429, 2);
    for (let i = 0; i < 2; i++) {
      const res = await bulk(es, body(2));
      assert.equal(res.status, 429);
      assert.equal(res.json.error.type, 'es_rejected_execution_exception');
      assert.equal(res.json.status, 429);
      assert.equal(res.headers['x-elastic-product'], 'Elasticsearch');
    }
    assert.equal(es.documents('f').length, 0);
    const ok = await bulk(es, body(2));
    assert.equal(ok.status, 200);
    assert.equal(es.documents('f').length, 2);
    assert.equal(es.faults.pending().bulkStatus, 0);
  });

  test('bulkStatus: 503 from Elasticsearch, 502/504 from a proxy, custom bodies', async (t) => {
    const es = await start(t);
    es.faults.bulkStatus(503).bulkStatus(502).bulkStatus(504).bulkStatus(400, { body: { error: 'custom', status: 400 } });
    const r503 = await bulk(es, body(1));
    assert.equal(r503.status, 503);
    assert.equal(r503.json.status, 503);
    const r502 = await bulk(es, body(1));
    assert.equal(r502.status, 502);
    assert.equal(r502.headers['x-elastic-product'], undefined, 'a proxy does not claim to be Elasticsearch');
    assert.match(r502.headers['content-type'], /text\/html/);
    assert.equal((await bulk(es, body(1))).status, 504);
    const custom = await bulk(es, body(1));
    assert.equal(custom.status, 400);
    assert.deepEqual(custom.json, { error: 'custom', status: 400 });
    assert.equal(es.documents('f').length, 0);
    // Only bulk requests consume bulkStatus faults.
    es.faults.bulkStatus(500);
    assert.equal((await request(es.url, { path: '/' })).status, 200);
    assert.equal((await bulk(es, body(1))).status, 500);
  });

  test('itemStatus: the next N documents fail and are not stored, the others are', async (t) => {
    const es = await start(t);
    es.faults.itemStatus(429, { times: 2 });
    const res = await bulk(es, body(4));
    assert.equal(res.status, 200);
    assert.equal(res.json.errors, true);
    assert.deepEqual(res.json.items.map((i) => i.create.status), [429, 429, 201, 201]);
    assert.equal(res.json.items[0].create.error.type, 'es_rejected_execution_exception');
    assert.deepEqual(es.documents('f').map((d) => d._id), ['d2', 'd3']);
  });

  test('itemStatus with a match predicate, and 400/500 defaults', async (t) => {
    const es = await start(t);
    es.faults.itemStatus(400, { times: 1, match: (src) => src.i === 2 });
    es.faults.itemStatus(500, { times: 1, match: (src, meta) => meta.id === 'd3' });
    const res = await bulk(es, body(4));
    assert.deepEqual(res.json.items.map((i) => i.create.status), [201, 201, 400, 500]);
    assert.equal(res.json.items[2].create.error.type, 'document_parsing_exception');
    assert.deepEqual(es.documents('f').map((d) => d._id), ['d0', 'd1']);
    assert.equal(es.faults.pending().itemStatus, 0);
  });

  test('delay: the next N responses of any kind are delayed, then none', async (t) => {
    const es = await start(t);
    es.faults.delay(100, 2);
    const t0 = performance.now();
    assert.equal((await request(es.url, { path: '/' })).status, 200);
    assert.equal((await request(es.url, { path: '/_cluster/health' })).status, 200);
    assert.ok(performance.now() - t0 >= 190, 'two delayed answers');
    assert.equal(es.faults.pending().delay, 0);
  });

  test('delay: the next N responses are delayed by at least the given time', async (t) => {
    const es = await start(t);
    es.faults.delay(150, { times: 1, match: (r) => r.path === '/_bulk' });
    const t0 = performance.now();
    assert.equal((await request(es.url, { path: '/' })).status, 200, 'not matched: not delayed');
    const fast = performance.now() - t0;
    const t1 = performance.now();
    const timedOut = await request(es.url, { method: 'POST', path: '/_bulk', headers: NDJSON, body: body(1), timeoutMs: 50 }).then(
      () => false,
      (e) => e.code === 'CLIENT_TIMEOUT',
    );
    assert.ok(timedOut, 'the client timed out first');
    // The server still answers (to nobody) and stores the document: bounded wait on the log.
    await es.waitFor(() => es.requests.find((r) => r.path === '/_bulk' && r.status !== null), { timeoutMs: 3000 });
    assert.ok(performance.now() - t1 >= 140);
    assert.equal(es.documents('f').length, 1);
    assert.ok(fast < 1000);
    assert.equal(es.faults.pending().delay, 0);
    const again = await bulk(es, body(1));
    assert.equal(again.json.items[0].create.status, 409, 'the retry finds the document stored');
  });

  test('resetNext: the connection is reset after the request is read; nothing is stored', async (t) => {
    const es = await start(t);
    es.faults.resetNext();
    const err = await bulk(es, body(2)).then(() => null, (e) => e);
    assert.ok(err, 'the client sees an error');
    assert.equal(err.code, 'ECONNRESET');
    assert.equal(es.documents('f').length, 0);
    assert.equal(es.requests.at(-1).reset, true);
    assert.equal((await bulk(es, body(2))).status, 200);
    assert.equal(es.documents('f').length, 2);
  });

  test('resetAfterStore: documents are stored but the client never sees the answer; the retry gets 409s', async (t) => {
    const es = await start(t);
    es.faults.resetAfterStore();
    const err = await bulk(es, body(3)).then(() => null, (e) => e);
    assert.equal(err?.code, 'ECONNRESET');
    assert.equal(es.documents('f').length, 3);
    const retry = await bulk(es, body(3));
    assert.equal(retry.status, 200);
    assert.deepEqual(retry.json.items.map((i) => i.create.status), [409, 409, 409]);
    assert.equal(es.documents('f').length, 3);
  });

  test("down('reset'): connections are reset; up() restores service", async (t) => {
    const es = await start(t);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    assert.equal((await request(es.url, { path: '/', agent })).status, 200);
    await es.faults.down('reset');
    const err = await request(es.url, { path: '/' }).then(() => null, (e) => e);
    assert.equal(err?.code, 'ECONNRESET');
    await es.faults.up();
    assert.equal((await request(es.url, { path: '/', agent })).status, 200);
  });

  test("down('refused'): the port refuses connections; up() listens again on the same port", async (t) => {
    const es = await start(t);
    const port = es.port;
    await es.setDown(true, 'refused');
    const err = await request(es.url, { path: '/' }).then(() => null, (e) => e);
    assert.equal(err?.code, 'ECONNREFUSED');
    await es.setDown(false);
    assert.equal(es.port, port);
    assert.equal((await request(es.url, { path: '/' })).status, 200);
  });

  test('restart(): same port, data kept, open connections reset', async (t) => {
    const es = await start(t);
    await bulk(es, body(2));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    await request(es.url, { path: '/', agent });
    const port = es.port;
    await es.restart();
    assert.equal(es.port, port);
    assert.equal(es.openConnections, 0);
    assert.equal(es.documents('f').length, 2);
    const retry = await bulk(es, body(2));
    assert.deepEqual(retry.json.items.map((i) => i.create.status), [409, 409]);
  });

  test('closeIdleConnections closes pooled connections, as a load balancer idle timeout does', async (t) => {
    const es = await start(t);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    t.after(() => agent.destroy());
    await Promise.all([request(es.url, { path: '/', agent }), request(es.url, { path: '/', agent })]);
    assert.equal(es.openConnections, 2);
    es.faults.closeIdleConnections();
    await es.waitFor(() => es.openConnections === 0, { timeoutMs: 2000 });
  });
});

// ---------------------------------------------------------------------------------------------
describe('connections, request log, controller', () => {
  test('keep-alive: sequential requests on one pooled connection open one connection', async (t) => {
    const es = await start(t);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    for (let i = 0; i < 5; i++) assert.equal((await bulk(es, ndjson({ index: { _index: 'k' } }, { i }), { agent })).status, 200);
    assert.equal(es.connectionsOpened, 1);
    assert.equal(new Set(es.requests.map((r) => r.connection)).size, 1);
  });

  test('many concurrent connections', async (t) => {
    const es = await start(t);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    t.after(() => agent.destroy());
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => bulk(es, ndjson({ create: { _index: 'conc', _id: `c${i}` } }, { i }), { agent })));
    assert.ok(results.every((r) => r.status === 200 && !r.json.errors));
    assert.equal(es.documents('conc').length, 200);
    assert.ok(es.connectionsOpened <= 32, `opened ${es.connectionsOpened}`);
    assert.ok(es.connectionsOpened >= 2);
  });

  test('the request log has method, path, redacted headers, decompressed body and status', async (t) => {
    const es = await start(t);
    const b = ndjson({ index: { _index: 'l' } }, { a: 1 });
    await bulk(es, zlib.gzipSync(b), { path: '/_bulk?refresh=false', headers: { 'Content-Encoding': 'gzip' } });
    await request(es.url, { path: '/missing/_count' });
    const [first, second] = es.requests;
    assert.equal(first.method, 'POST');
    assert.equal(first.path, '/_bulk');
    assert.deepEqual(first.query, { refresh: 'false' });
    assert.equal(first.headers['content-encoding'], 'gzip');
    assert.equal(first.body, b);
    assert.equal(first.status, 200);
    assert.equal(second.status, 404);
  });

  test('reset() forgets documents, templates, policies, requests and faults', async (t) => {
    const es = await withStream(t);
    await put(es, '/_ilm/policy/p', { policy: { phases: { delete: { min_age: '1d', actions: { delete: {} } } } } });
    await bulk(es, ndjson({ create: { _index: 'iot-events' } }, event(1)));
    const templates = es.templates;
    es.faults.bulkStatus(429);
    es.reset();
    assert.equal(es.allDocuments().size, 0);
    assert.equal(templates.size, 0, 'the same Map, cleared in place');
    assert.equal(es.policies.size, 0);
    assert.equal(es.requests.length, 0);
    assert.equal(es.faults.pending().bulkStatus, 0);
    assert.equal((await bulk(es, ndjson({ index: { _index: 'after' } }, { a: 1 }))).status, 200);
  });

  test('benchmark options: keepSources=false keeps ids (409s still work), logBodies=false, requestLogLimit', async (t) => {
    const es = await start(t, { keepSources: false, logBodies: false, requestLogLimit: 2 });
    const b = ndjson({ create: { _index: 'bench', _id: '1' } }, { a: 1 });
    assert.equal((await bulk(es, b)).json.items[0].create.status, 201);
    assert.equal((await bulk(es, b)).json.items[0].create.status, 409);
    assert.deepEqual(es.documents('bench').map((d) => [d._id, d._source]), [['1', null]]);
    await request(es.url, { path: '/' });
    assert.equal(es.requests.length, 2);
    assert.equal(es.requests[0].body, null);
    assert.equal(es.requests.at(-1).path, '/');
  });

  test('waitFor rejects after its deadline', async (t) => {
    const es = await start(t);
    await assert.rejects(es.waitFor(() => false, { timeoutMs: 50 }), /within 50 ms/);
    const pending = es.waitForDocuments('w', 1, { timeoutMs: 2000 });
    await bulk(es, ndjson({ index: { _index: 'w' } }, { a: 1 }));
    assert.equal((await pending).length, 1);
  });
});

// ---------------------------------------------------------------------------------------------
describe('TLS', () => {
  test('HTTPS with a throwaway CA, API key auth, resets and restart', async (t) => {
    const { dir, key, cert, ca } = makeTestCertificates();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const es = await start(t, { tls: { key, cert }, auth: { apiKey: 'id:secret' } });
    assert.match(es.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const auth = { Authorization: `ApiKey ${Buffer.from('id:secret').toString('base64')}` };
    const info = await request(es.url, { path: '/', ca, headers: { ...auth, 'Accept-Encoding': 'gzip' } });
    assert.equal(info.status, 200);
    assert.equal(info.headers['content-encoding'], undefined, 'no response compression over TLS by default');
    const untrusted = await request(es.url, { path: '/' }).then(() => null, (e) => e);
    assert.ok(untrusted, 'a client without the CA refuses the certificate');
    const res = await request(es.url, { method: 'POST', path: '/_bulk', ca, headers: { ...auth, ...NDJSON }, body: ndjson({ create: { _index: 's', _id: '1' } }, { a: 1 }) });
    assert.equal(res.json.items[0].create.status, 201);
    es.faults.resetAfterStore();
    const err = await request(es.url, { method: 'POST', path: '/_bulk', ca, headers: { ...auth, ...NDJSON }, body: ndjson({ create: { _index: 's', _id: '2' } }, { a: 2 }) }).then(() => null, (e) => e);
    assert.equal(err?.code, 'ECONNRESET');
    await es.restart();
    assert.equal((await request(es.url, { path: '/s/_count', ca, headers: auth })).json.count, 2);
  });
});

// ---------------------------------------------------------------------------------------------
describe('main.mjs', () => {
  test('prints {"listening": url}, serves, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [path.join(HERE, 'main.mjs'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 10000);
    try {
      const line = await new Promise((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c) => {
          out += c;
          if (out.includes('\n')) resolve(out.split('\n')[0]);
        });
        child.on('exit', (code) => reject(new Error(`exited early with ${code}`)));
      });
      const { listening } = JSON.parse(line);
      assert.match(listening, /^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await request(listening, { method: 'POST', path: '/_bulk', headers: NDJSON, body: ndjson({ create: { _index: 'm', _id: '1' } }, { a: 1 }, { create: { _index: 'm', _id: '1' } }, { a: 1 }) });
      assert.deepEqual(res.json.items.map((i) => i.create.status), [201, 409]);
      const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      child.kill('SIGTERM');
      assert.deepEqual(await exited, { code: 0, signal: null });
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  });

  test('a bad flag exits with status 2', () => {
    let status = 0;
    try {
      execFileSync(process.execPath, [path.join(HERE, 'main.mjs'), '--bogus'], { stdio: 'pipe', timeout: 10000 });
    } catch (err) {
      status = err.status;
    }
    assert.equal(status, 2);
  });
});
