// Checks what iot-collector sends to Elasticsearch (bulk, index templates, lifecycle policy) and
// the bulk responses it parses against the official Elasticsearch specification, as shipped in
// npm @elastic/request-converter (dist/schema.json). See README.md.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSpec, isPlainObject, describeType } from './spec.mjs';
import { Collector, killAll } from '../integration/lib/collector.mjs';
import { RawCoapClient, request as rawRequest, Type } from '../integration/lib/coap.mjs';
import { makeEvent, makeBatch } from '../integration/lib/events.mjs';
import { startElasticTestServer } from '../elastic-test-server/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const spec = loadSpec(); // ~10 MB of JSON: once for the whole file

const DATA_STREAM = 'iot-events'; // the collector's default --data-stream
const BULK = 'bulk';
const PUT_TEMPLATE = 'indices.put_index_template';
const PUT_POLICY = 'ilm.put_lifecycle';

const mediaType = (contentType) => String(contentType ?? '').split(';')[0].trim().toLowerCase();
const typeRef = (t) => ({ kind: 'instance_of', type: t.name });
const fail = (what, errors) => assert.fail(`${what} violates the Elasticsearch specification:\n  ${errors.join('\n  ')}`);

/** Sends one event or batch as raw CoAP over UDP (confirmable POST /events, JSON) and awaits the answer. */
async function postEvents(c, body, { confirmable = true } = {}) {
  const client = await RawCoapClient.open(c.coap.host);
  try {
    const buf = rawRequest({ type: confirmable ? Type.CON : Type.NON, method: 'POST', path: '/events', payload: JSON.stringify(body), contentFormat: 50 });
    const m = await client.exchange(buf, c.coap.port, c.coap.host, 10_000);
    return { code: m.codeString, text: m.payload.toString('utf8') };
  } finally {
    client.close();
  }
}

/** The endpoints of the specification that `method` `pathname` is a request of (most specific url first). */
function endpointsMatching(method, pathname) {
  const found = [];
  for (const name of spec.endpoints.keys()) {
    const m = spec.matchUrl(name, method, pathname);
    if (m) found.push({ name, ...m });
  }
  const params = (f) => Object.keys(f.params).length;
  found.sort((a, b) => params(a) - params(b));
  return found.filter((f) => params(f) === params(found[0]));
}

/** Common checks of one logged request against an endpoint: url/method, query, content type, body presence. */
function checkEnvelope(entry, endpointName) {
  const endpoint = spec.endpoint(endpointName);
  const where = `${entry.method} ${entry.url}`;
  const url = spec.matchUrl(endpointName, entry.method, entry.path);
  assert.ok(url, `${where}: no url of ${endpointName} matches; the specification has ${endpoint.urls.map((u) => `${u.methods.join('|')} ${u.path}`).join(', ')}`);
  const allowedQuery = spec.queryParameters(endpointName);
  for (const q of Object.keys(entry.query)) {
    assert.ok(allowedQuery.has(q), `${where}: query parameter "${q}" is not one of ${endpointName}'s: ${[...allowedQuery].join(', ')}`);
  }
  const ct = mediaType(entry.headers['content-type']);
  assert.ok(endpoint.requestMediaType.includes(ct), `${where}: Content-Type ${JSON.stringify(entry.headers['content-type'])}, the specification lists ${endpoint.requestMediaType.join(', ')}`);
  assert.equal(typeof entry.body, 'string', `${where}: the request log has no body (logBodies off?)`);
  if (endpoint.requestBodyRequired) assert.ok(entry.body.length > 0, `${where}: ${endpointName} requires a body`);
  return url;
}

/**
 * The NDJSON body of a bulk request against _global.bulk.Request: its body is a list of
 * OperationContainer action lines, each followed by a source (TDocument) for index and create,
 * an UpdateAction for update, and nothing for delete. Returns [{action, meta, source}].
 */
function checkBulkBody(body, where) {
  const errors = [];
  const request = spec.requestType(BULK);
  assert.equal(request.body.kind, 'value', `${BULK} request body is no longer a list of operations: ${request.body.kind}`);
  if (!body.endsWith('\n')) errors.push(`${where}: the body does not end with "\\n": ${JSON.stringify(body.slice(-80))}`);
  const lines = body.split('\n');
  lines.pop();
  const container = spec.resolve('_global.bulk', 'OperationContainer');
  const ops = [];
  for (let i = 0; i < lines.length; i++) {
    const at = `${where} line ${i + 1}`;
    let action;
    try {
      action = JSON.parse(lines[i]);
    } catch (e) {
      errors.push(`${at}: the action line is not JSON (${e.message}): ${lines[i].slice(0, 120)}`);
      continue;
    }
    if (!isPlainObject(action) || Object.keys(action).length !== 1 || !container.properties.has(Object.keys(action)[0])) {
      errors.push(`${at}: an action line must be an object with exactly one of ${[...container.properties.keys()].join(', ')}: ${lines[i].slice(0, 120)}`);
      continue;
    }
    const [op] = Object.keys(action);
    // The operation's object against its type (CreateOperation -> WriteOperation -> OperationBase).
    errors.push(...spec.validate(action, typeRef(spec.type('_global.bulk', 'OperationContainer')), at));
    const entry = { action: op, meta: action[op], source: undefined };
    if (op !== 'delete') {
      if (i + 1 >= lines.length) {
        errors.push(`${at}: "${op}" needs a source line after it, the body ends`);
      } else {
        i += 1;
        const sat = `${where} line ${i + 1}`;
        try {
          entry.source = JSON.parse(lines[i]);
        } catch (e) {
          errors.push(`${sat}: the source line is not JSON (${e.message}): ${lines[i].slice(0, 120)}`);
        }
        if (entry.source !== undefined) {
          if (op === 'update') errors.push(...spec.validateType(entry.source, '_global.bulk', 'UpdateAction', sat));
          else if (!isPlainObject(entry.source)) errors.push(`${sat}: the source of "${op}" must be a JSON object, got ${lines[i].slice(0, 120)}`);
        }
      }
    }
    ops.push(entry);
  }
  if (errors.length) fail(where, errors);
  return ops;
}

/** A JSON request body against its endpoint's request type, top level named explicitly. */
function checkJsonBody(entry, endpointName) {
  const where = `${entry.method} ${entry.url}`;
  const request = spec.requestType(endpointName);
  assert.equal(request.body.kind, 'properties', `${endpointName}'s request body is not an object of properties`);
  let body;
  try {
    body = JSON.parse(entry.body);
  } catch (e) {
    assert.fail(`${where}: the body is not JSON (${e.message})`);
  }
  assert.ok(isPlainObject(body), `${where}: the body is not a JSON object`);
  const known = new Set(request.body.properties.flatMap((p) => [p.name, ...(p.aliases ?? [])]));
  const unknown = Object.keys(body).filter((k) => !known.has(k));
  assert.deepEqual(unknown, [], `${where}: top-level body properties unknown to ${endpointName}: ${unknown.join(', ')} (it has ${[...known].join(', ')})`);
  // Then the whole tree: types, nested unknown properties, mapping types.
  const errors = spec.validate(body, typeRef(request));
  if (errors.length) fail(where, errors);
  return body;
}

after(async () => {
  await killAll();
});

describe(`the Elasticsearch specification (@elastic/request-converter ${JSON.parse(fs.readFileSync(path.join(here, 'node_modules/@elastic/request-converter/package.json'), 'utf8')).version})`, () => {
  it('has the bulk, index template and lifecycle policy endpoints this test relies on', () => {
    const bulk = spec.endpoint(BULK);
    assert.deepEqual(bulk.request, { name: 'Request', namespace: '_global.bulk' });
    assert.deepEqual(bulk.response, { name: 'Response', namespace: '_global.bulk' });
    assert.ok(spec.matchUrl(BULK, 'POST', '/_bulk'), 'POST /_bulk');
    for (const [name, method, p] of [[PUT_TEMPLATE, 'PUT', '/_index_template/x'], [PUT_POLICY, 'PUT', '/_ilm/policy/x']]) {
      assert.ok(spec.matchUrl(name, method, p), `${method} ${p} is ${name}`);
    }
    const container = spec.resolve('_global.bulk', 'OperationContainer');
    assert.ok(container.container, 'OperationContainer is a container (exactly one operation)');
    assert.deepEqual([...container.properties.keys()].sort(), ['create', 'delete', 'index', 'update']);
    // CreateOperation inherits _index and _id (WriteOperation -> OperationBase).
    const create = spec.resolve('_global.bulk', 'CreateOperation');
    for (const p of ['_index', '_id']) assert.ok(create.properties.has(p), `CreateOperation.${p}`);
    const response = spec.resolve(spec.responseType(BULK));
    assert.deepEqual([...response.required].sort(), ['errors', 'items', 'took']);
  });
});

describe('requests iot-collector sends', () => {
  let es;
  let c;
  let sent = 0;
  const byEndpoint = new Map();

  before(async () => {
    es = await startElasticTestServer();
    c = await Collector.start({
      standardFlags: false,
      args: ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--log-format', 'json', '--threads', '2',
             '--instance', 'spec-1', '--elasticsearch-url', es.url, '--bulk-linger-ms', '50', '--self-metrics-interval', '1'],
    });
    // Events, dead letters and self-metrics.
    await es.waitFor(() => es.policies.size >= 1 && es.templates.size >= 3, { timeoutMs: 15_000, message: 'the collector did not install its lifecycle policy and index templates' });

    const batches = [
      makeEvent(),
      makeBatch(5),
      makeEvent({ payload: { type: 'note', value: 'quote " backslash \\ tab \t unicode é ✓ 😀', unit: 'text' } }),
      makeEvent({ payload: { type: 'state', value: { on: true, levels: [1, 2.5, -3], nested: { n: null } } }, timestamp: Date.now() - 60_000 }),
      [makeEvent({ namespace: 'lab', payload: { type: 'flag', value: false } }), makeEvent({ payload: { type: 'count', value: 42 } })],
    ];
    for (const body of batches) {
      const r = await postEvents(c, body);
      assert.equal(r.code, '2.01', `POST /events ${JSON.stringify(body).slice(0, 200)}: ${r.code} ${r.text}`);
      sent += Array.isArray(body) ? body.length : 1;
    }
    await es.waitForDocuments(DATA_STREAM, sent, { timeoutMs: 15_000 });
    // A self-metrics bulk request is checked with the others.
    await es.waitForDocuments(`${DATA_STREAM}-collector`, 1, { timeoutMs: 15_000 });

    for (const entry of es.requests) {
      const matches = endpointsMatching(entry.method, entry.path);
      const name = matches.length === 1 ? matches[0].name : `unmatched ${entry.method} ${entry.path} (${matches.map((m) => m.name).join(', ') || 'no endpoint'})`;
      if (!byEndpoint.has(name)) byEndpoint.set(name, []);
      byEndpoint.get(name).push(entry);
    }
  });

  after(async () => {
    await c?.kill();
    await es?.stop();
  });

  it('sends only requests that are endpoints of the specification', () => {
    const unmatched = [...byEndpoint.keys()].filter((k) => k.startsWith('unmatched'));
    assert.deepEqual(unmatched, [], `requests that match no single endpoint: ${unmatched.join('; ')}`);
    for (const name of [BULK, PUT_TEMPLATE, PUT_POLICY]) assert.ok(byEndpoint.has(name), `no ${name} request was seen; seen: ${[...byEndpoint.keys()].join(', ')}`);
  });

  it('bulk: url, method, content type and NDJSON body as _global.bulk.Request', () => {
    const requests = byEndpoint.get(BULK) ?? [];
    assert.ok(requests.length > 0, 'no bulk request was captured');
    let docs = 0;
    let largest = 0;
    for (const entry of requests) {
      const where = `${entry.method} ${entry.url} (#${entry.seq})`;
      const url = checkEnvelope(entry, BULK);
      // The answer is trimmed to what the collector reads, which must include each item's
      // status and error (without them every document would look failed).
      const kept = (entry.query.filter_path ?? '').split(',');
      for (const path of ['errors', 'items.*.status', 'items.*.error']) assert.ok(kept.includes(path), `${where}: filter_path keeps ${path}`);
      const ops = checkBulkBody(entry.body, where);
      assert.ok(ops.length > 0, `${where}: no operations`);
      for (const op of ops) {
        assert.equal(op.action, 'create', `${where}: the collector writes to a data stream, which takes only "create"`);
        // Without an {index} in the url, every operation must name its target itself.
        if (!url.params.index) assert.equal(typeof op.meta._index, 'string', `${where}: "_index" missing from ${JSON.stringify(op.meta)}`);
      }
      docs += ops.length;
      largest = Math.max(largest, ops.length);
    }
    assert.ok(docs >= sent, `${docs} documents in the bulk requests, ${sent} events sent`);
    assert.ok(largest >= 2, 'no bulk request carried more than one document: the action/source alternation was not exercised');
  });

  it('PUT _index_template: url, method, content type and body as indices.put_index_template.Request', () => {
    const requests = byEndpoint.get(PUT_TEMPLATE) ?? [];
    assert.ok(requests.length >= 3, `${requests.length} index template requests, expected the events', the dead letters' and the self-metrics'`);
    for (const entry of requests) {
      const url = checkEnvelope(entry, PUT_TEMPLATE);
      const body = checkJsonBody(entry, PUT_TEMPLATE);
      assert.ok(url.params.name.length > 0, 'template name');
      assert.ok(body.index_patterns !== undefined, `${entry.url}: index_patterns (the specification marks it optional; Elasticsearch requires it)`);
    }
  });

  it('PUT _ilm/policy: url, method, content type and body as ilm.put_lifecycle.Request', () => {
    const requests = byEndpoint.get(PUT_POLICY) ?? [];
    assert.ok(requests.length >= 1, 'no lifecycle policy request was captured');
    for (const entry of requests) {
      checkEnvelope(entry, PUT_POLICY);
      const body = checkJsonBody(entry, PUT_POLICY);
      assert.ok(isPlainObject(body.policy), `${entry.url}: "policy"`);
    }
  });

  it('every other request it sends (health checks, ...) matches its endpoint', () => {
    for (const [name, entries] of byEndpoint) {
      if ([BULK, PUT_TEMPLATE, PUT_POLICY].includes(name)) continue;
      const endpoint = spec.endpoint(name);
      for (const entry of entries) {
        const allowed = spec.queryParameters(name);
        for (const q of Object.keys(entry.query)) assert.ok(allowed.has(q), `${entry.method} ${entry.url}: query parameter "${q}" is not one of ${name}'s`);
        if (entry.body) {
          assert.ok(endpoint.requestMediaType?.includes(mediaType(entry.headers['content-type'])), `${entry.method} ${entry.url}: Content-Type ${entry.headers['content-type']}`);
        }
      }
    }
  });
});

describe("the test server's bulk responses (what the collector's parser is tested against)", () => {
  let es;
  const responseType = spec.responseType(BULK);
  const idFor = (n) => `${'f'.repeat(28)}${String(n).padStart(4, '0')}`;
  const doc = (sender, overrides = {}) => ({
    '@timestamp': '2026-11-22T10:00:00.000Z', namespace: 'default', sender, origin: 'probe1',
    payload: { type: 'temperature', value: 21.5 }, received_at: '2026-11-22T10:00:00.100Z', collector: 'spec-1', ...overrides,
  });
  const ndjson = (pairs) => pairs.map(([id, source]) => `${JSON.stringify({ create: { _index: DATA_STREAM, _id: id } })}\n${JSON.stringify(source)}\n`).join('');

  async function bulk(body) {
    const res = await fetch(`${es.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    return { status: res.status, contentType: res.headers.get('content-type'), body: await res.json() };
  }

  function checkResponse(r, what) {
    assert.equal(r.status, 200, `${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    const endpoint = spec.endpoint(BULK);
    assert.ok(endpoint.responseMediaType.includes(mediaType(r.contentType)), `${what}: Content-Type ${r.contentType}, the specification lists ${endpoint.responseMediaType.join(', ')}`);
    const errors = spec.validate(r.body, typeRef(responseType));
    if (errors.length) fail(`${what}: ${JSON.stringify(r.body).slice(0, 300)}`, errors);
    return r.body.items.map((it) => Object.values(it)[0]);
  }

  before(async () => {
    es = await startElasticTestServer();
    // The collector's own templates make iot-events a data stream with its real mappings.
    const collector = await startElasticTestServer();
    const c = await Collector.start({
      standardFlags: false,
      args: ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--log-format', 'json', '--threads', '1', '--elasticsearch-url', collector.url],
    });
    try {
      await collector.waitFor(() => collector.policies.size >= 1 && collector.templates.size >= 2, { timeoutMs: 15_000 });
    } finally {
      await c.kill();
      await collector.stop();
    }
    for (const [name, body] of collector.policies) await fetch(`${es.url}/_ilm/policy/${name}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const [name, body] of collector.templates) {
      const r = await fetch(`${es.url}/_index_template/${name}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(r.status, 200, `PUT _index_template/${name}: ${await r.text()}`);
    }
  });

  after(async () => {
    await es?.stop();
  });

  it('created (errors: false) conforms to _global.bulk.Response', async () => {
    const items = checkResponse(await bulk(ndjson([[idFor(1), doc('a')], [idFor(2), doc('b')]])), 'all created');
    assert.deepEqual(items.map((i) => i.status), [201, 201]);
    assert.equal(items[0].result, 'created');
  });

  it('409, item 400 (injected and from the mapping) and item 429 beside a created one (errors: true) conform', async () => {
    es.faults.itemStatus(400, { match: (source) => source?.sender === 'bad' });
    es.faults.itemStatus(429, { match: (source) => source?.sender === 'busy' });
    const r = await bulk(ndjson([
      [idFor(1), doc('a')], // exists: 409 version_conflict_engine_exception
      [idFor(3), doc('c')], // 201
      [idFor(4), doc('bad')], // injected 400 document_parsing_exception
      [idFor(5), doc('busy')], // injected 429 es_rejected_execution_exception
      [idFor(6), doc('d', { '@timestamp': 'not a date' })], // 400 from the date mapping, with caused_by
    ]));
    const items = checkResponse(r, 'mixed outcomes');
    assert.equal(r.body.errors, true);
    assert.deepEqual(items.map((i) => i.status), [409, 201, 400, 429, 400]);
    assert.equal(items[0].error.type, 'version_conflict_engine_exception');
    assert.equal(items[3].error.type, 'es_rejected_execution_exception');
    for (const i of [0, 2, 3, 4]) assert.equal(typeof items[i].error.reason, 'string', `item ${i} error.reason`);
  });

  it('a replay of a whole request (all 409) conforms', async () => {
    const body = ndjson([[idFor(1), doc('a')], [idFor(2), doc('b')], [idFor(3), doc('c')]]);
    const items = checkResponse(await bulk(body), 'all duplicates');
    assert.deepEqual(items.map((i) => i.status), [409, 409, 409]);
  });

  it('a whole-request 429 conforms to _types.ErrorResponseBase', async () => {
    es.faults.bulkStatus(429);
    const r = await bulk(ndjson([[idFor(7), doc('e')]]));
    assert.equal(r.status, 429);
    const errors = spec.validateType(r.body, '_types', 'ErrorResponseBase');
    if (errors.length) fail(`429 ${JSON.stringify(r.body)}`, errors);
  });
});

describe("the collector's bulk response parser reads properties the specification defines", () => {
  // Where each JSON name the parser reads lives in the specification, and what it must be there.
  const FIELDS = {
    items: {
      owner: ['_global.bulk', 'Response'],
      required: true,
      // an array of single-key objects {<OperationType>: ResponseItem}: the parser takes the one key
      type: { kind: 'array_of', value: { kind: 'dictionary_of', key: { kind: 'instance_of', type: { name: 'OperationType', namespace: '_global.bulk' } }, singleKey: true, value: { kind: 'instance_of', type: { name: 'ResponseItem', namespace: '_global.bulk' } } } },
    },
    status: { owner: ['_global.bulk', 'ResponseItem'], required: true, type: { kind: 'instance_of', type: { name: 'integer', namespace: '_types' } } },
    error: { owner: ['_global.bulk', 'ResponseItem'], required: false, type: { kind: 'instance_of', type: { name: 'ErrorCause', namespace: '_types' } } },
    type: { owner: ['_types', 'ErrorCause'], required: true, type: { kind: 'instance_of', type: { name: 'string', namespace: '_builtins' } } },
    // optional and nullable: the parser only uses it when it is a string
    reason: { owner: ['_types', 'ErrorCause'], required: false, type: { kind: 'union_of', items: [{ kind: 'instance_of', type: { name: 'string', namespace: '_builtins' } }, { kind: 'instance_of', type: { name: 'null', namespace: '_builtins' } }] } },
  };
  const header = fs.readFileSync(path.join(repo, 'libs/elastic/include/elastic/bulk_response.hpp'), 'utf8');
  const source = fs.readFileSync(path.join(repo, 'libs/elastic/src/bulk_response.cpp'), 'utf8');

  it('bulk_response.hpp/.cpp read exactly items, status, error, type and reason', () => {
    // The header documents the answer it parses and the "<error.type>: <error.reason>" it reports.
    assert.match(header, /_global\/bulk\/BulkResponse\.ts/, 'the header names the specification file it follows');
    const documented = [...header.matchAll(/\berror\.(\w+)/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(documented)].sort(), ['reason', 'type'], `error fields the header documents: ${documented}`);
    assert.match(header, /\bitems\b/);
    assert.match(header, /\bstatus\b/);
    // The names the parser actually looks up (its streaming handler compares each key it meets).
    const read = [...new Set([...source.matchAll(/\bkey == "([^"]+)"/g)].map((m) => m[1]))].sort();
    assert.deepEqual(read, Object.keys(FIELDS).sort(), `the parser reads ${read.join(', ')}: map every name in FIELDS to its place in the specification`);
  });

  for (const [name, want] of Object.entries(FIELDS)) {
    it(`"${name}" is ${want.owner.join('.')}.${name}: ${describeType(want.type)}${want.required ? ', required' : ''}`, () => {
      const p = spec.property(want.owner[0], want.owner[1], name);
      assert.equal(describeType(p.type), describeType(want.type), `${want.owner.join('.')}.${name} changed type`);
      assert.equal(p.required, want.required, `${want.owner.join('.')}.${name} required`);
    });
  }

  it('the operation keys of items are the operations the collector sends', () => {
    const members = spec.type('_global.bulk', 'OperationType').members.map((m) => m.name);
    assert.ok(members.includes('create'), `OperationType: ${members}`);
    // An integer status the parser classifies (read_status accepts 100..999).
    assert.ok(spec.validate(201, FIELDS.status.type).length === 0);
    assert.ok(spec.validate(201.5, FIELDS.status.type).length > 0);
  });
});
