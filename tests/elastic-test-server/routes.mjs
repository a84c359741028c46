// The REST routes the test server implements, and a small router that answers unknown paths
// and wrong methods the way Elasticsearch's RestController does (with the exception noted in
// the README: an unknown path is 404 here, 400 in Elasticsearch).
//
// A handler receives ctx {method, params, query, text, bodyKind, json(), store, faults, options}
// and returns one of:
//   {status, body, headers}                        a JSON answer
//   {raw: {status, body, contentType, headers, product}}  a non-JSON answer (proxy faults)
//   {reset: true}                                  reset the connection instead of answering
// or throws EsError / EsPlainError.
import crypto from 'node:crypto';
import { EsError, EsPlainError, wildcardMatch } from './http.mjs';
import { parseBulk, executeBulk } from './bulk.mjs';
import { runCount, runSearch } from './search.mjs';
import { validateTemplate, validatePolicy, validateIndexName, indexNotFound, flattenSettings } from './store.mjs';

const VERSION = {
  number: '8.15.0',
  build_flavor: 'default',
  build_type: 'docker',
  build_hash: '1a77947f34deddb41af25e6f0ddb8e830159c179',
  build_date: '2024-08-05T10:05:34.233336849Z',
  build_snapshot: false,
  lucene_version: '9.11.1',
  minimum_wire_compatibility_version: '7.17.0',
  minimum_index_compatibility_version: '7.0.0',
};
const CLUSTER_UUID = crypto.randomBytes(16).toString('base64url').slice(0, 22);

const ok = (body, status = 200) => ({ status, body });
const ACK = () => ok({ acknowledged: true });

function requireJson(ctx) {
  if (!ctx.text) throw new EsError(400, 'parse_exception', 'request body is required');
  return ctx.json();
}

function lifecycleName(templateBody) {
  return flattenSettings(templateBody?.template?.settings ?? {})['index.lifecycle.name'];
}

// ---- handlers --------------------------------------------------------------------------------

function info(ctx) {
  return ok({ name: ctx.options.nodeName, cluster_name: ctx.options.clusterName, cluster_uuid: CLUSTER_UUID, version: VERSION, tagline: 'You Know, for Search' });
}

function health(ctx) {
  const n = ctx.store.indices.size;
  return ok({
    cluster_name: ctx.options.clusterName,
    status: 'green',
    timed_out: false,
    number_of_nodes: 1,
    number_of_data_nodes: 1,
    active_primary_shards: n,
    active_shards: n,
    relocating_shards: 0,
    initializing_shards: 0,
    unassigned_shards: 0,
    delayed_unassigned_shards: 0,
    number_of_pending_tasks: 0,
    number_of_in_flight_fetch: 0,
    task_max_waiting_in_queue_millis: 0,
    active_shards_percent_as_number: 100.0,
  });
}

function templateNotFound(name) {
  return new EsError(404, 'resource_not_found_exception', `index template matching [${name}] not found`);
}

function matchNames(map, expr) {
  const parts = expr.split(',');
  return [...map.keys()].filter((k) => parts.some((p) => wildcardMatch(p, k)));
}

function putTemplate(ctx) {
  const body = requireJson(ctx);
  const { name } = ctx.params;
  if (ctx.query.get('create') === 'true' && ctx.store.templates.has(name)) {
    throw new EsError(400, 'illegal_argument_exception', `index template [${name}] already exists`);
  }
  validateTemplate(ctx.store, name, body);
  ctx.store.putTemplate(name, body);
  return ACK();
}

function getTemplates(ctx) {
  const name = ctx.params.name ?? '*';
  const names = matchNames(ctx.store.templates, name);
  if (names.length === 0 && ctx.params.name) throw templateNotFound(name);
  return ok({
    index_templates: names.map((n) => {
      const body = ctx.store.templates.get(n);
      // Echo the body as stored, with the normalisations Elasticsearch applies.
      return { name: n, index_template: { ...body, index_patterns: [body.index_patterns].flat(), composed_of: body.composed_of ?? [] } };
    }),
  });
}

function deleteTemplate(ctx) {
  const names = matchNames(ctx.store.templates, ctx.params.name);
  if (names.length === 0) throw templateNotFound(ctx.params.name);
  for (const n of names) {
    const users = [...ctx.store.dataStreams.values()].filter((ds) => ds.template === n).map((ds) => ds.name);
    if (users.length) {
      throw new EsError(400, 'illegal_argument_exception', `unable to remove composable templates [${n}] as they are in use by a data streams [${users.join(', ')}]`);
    }
  }
  for (const n of names) {
    ctx.store.templates.delete(n);
    ctx.store.templateVersions.delete(n);
  }
  return ACK();
}

function policyNotFound(name) {
  return new EsError(404, 'resource_not_found_exception', `Lifecycle policy not found: ${name}`);
}

function putPolicy(ctx) {
  const body = requireJson(ctx);
  validatePolicy(ctx.params.name, body);
  ctx.store.putPolicy(ctx.params.name, body);
  return ACK();
}

function policyUsers(store, name) {
  const templates = [...store.templates].filter(([, b]) => lifecycleName(b) === name).map(([n]) => n);
  const indices = [...store.indices.values()].filter((i) => i.settings['index.lifecycle.name'] === name);
  return {
    indices: indices.map((i) => i.name),
    data_streams: [...new Set(indices.map((i) => i.dataStream).filter(Boolean))],
    composable_templates: templates,
  };
}

function getPolicies(ctx) {
  const names = ctx.params.name ? ctx.params.name.split(',') : [...ctx.store.policies.keys()];
  const out = {};
  for (const n of names) {
    const body = ctx.store.policies.get(n);
    if (!body) throw policyNotFound(n);
    const meta = ctx.store.policyMeta.get(n);
    out[n] = { version: meta.version, modified_date: meta.modified_date, policy: body.policy, in_use_by: policyUsers(ctx.store, n) };
  }
  return ok(out);
}

function deletePolicy(ctx) {
  const { name } = ctx.params;
  if (!ctx.store.policies.has(name)) throw policyNotFound(name);
  const users = policyUsers(ctx.store, name).indices;
  if (users.length) throw new EsError(400, 'illegal_argument_exception', `Cannot delete policy [${name}]. It is in use by one or more indices: [${users.join(', ')}]`);
  ctx.store.policies.delete(name);
  ctx.store.policyMeta.delete(name);
  return ACK();
}

function dataStreamView(store, ds) {
  const tpl = store.templates.get(ds.template);
  const view = {
    name: ds.name,
    timestamp_field: { name: '@timestamp' },
    indices: ds.indices.map((b) => ({ index_name: b, index_uuid: store.indices.get(b).uuid })),
    generation: ds.generation,
    status: 'GREEN',
    template: ds.template,
    hidden: false,
    system: false,
    allow_custom_routing: false,
    replicated: false,
  };
  const policy = lifecycleName(tpl);
  if (policy) view.ilm_policy = policy;
  return view;
}

function putDataStream(ctx) {
  const { name } = ctx.params;
  validateIndexName(name);
  if (ctx.store.dataStreams.has(name)) throw new EsError(400, 'resource_already_exists_exception', `data_stream [${name}] already exists`);
  const template = ctx.store.findTemplate(name);
  if (!template?.body.data_stream) throw new EsError(400, 'illegal_argument_exception', `no matching index template found for data stream [${name}]`);
  ctx.store.createDataStream(name, template);
  return ACK();
}

function getDataStreams(ctx) {
  const expr = ctx.params.name ?? '*';
  const names = matchNames(ctx.store.dataStreams, expr);
  if (names.length === 0 && ctx.params.name && !expr.includes('*')) throw indexNotFound(expr);
  return ok({ data_streams: names.map((n) => dataStreamView(ctx.store, ctx.store.dataStreams.get(n))) });
}

function deleteDataStream(ctx) {
  for (const n of ctx.params.name.split(',')) ctx.store.deleteDataStream(n);
  return ACK();
}

// The bulk route owns the request-level faults: resetNext, bulkStatus, resetAfterStore.
function bulk(ctx) {
  if (ctx.faults.takeResetNext()) return { reset: true };
  const injected = ctx.faults.takeBulkStatus();
  if (injected) return { raw: injected };
  const ops = parseBulk(ctx.text, ctx.params.index);
  const body = executeBulk(ctx.store, ops, ctx.faults);
  if (ctx.faults.takeResetAfterStore()) return { reset: true };
  return ok(body);
}

function searchBody(ctx) {
  return ctx.text ? ctx.json() : undefined;
}

function count(ctx) {
  const indices = ctx.store.resolveRead(ctx.params.index);
  return ok(runCount(indices, searchBody(ctx), ctx.query));
}

function search(ctx) {
  const indices = ctx.store.resolveRead(ctx.params.index);
  return ok(runSearch(indices, searchBody(ctx), ctx.query, { allowIdFieldData: ctx.options.allowIdFieldData }));
}

function refresh(ctx) {
  const n = ctx.store.resolveRead(ctx.params.index).length;
  return ok({ _shards: { total: n, successful: n, failed: 0 } });
}

function getDoc(ctx) {
  const { index: name, id } = ctx.params;
  if (ctx.store.dataStreams.has(name)) {
    throw new EsError(400, 'illegal_argument_exception', `The provided expression [${name}] matches a data stream, specify the corresponding concrete indices instead.`);
  }
  const idx = ctx.store.indices.get(name);
  if (!idx) throw indexNotFound(name);
  const doc = idx.docs.get(id);
  if (!doc) return ok({ _index: name, _id: id, found: false }, 404);
  return ok({ _index: name, _id: id, _version: doc.version, _seq_no: doc.seqNo, _primary_term: 1, found: true, _source: doc.source === null ? null : JSON.parse(doc.source) });
}

function getIndex(ctx) {
  const out = {};
  for (const idx of ctx.store.resolveRead(ctx.params.index)) {
    const settings = { creation_date: String(idx.createdAt), number_of_shards: '1', number_of_replicas: '0', uuid: idx.uuid, provided_name: idx.name };
    for (const [k, v] of Object.entries(idx.settings)) settings[k.replace(/^index\./, '')] = v;
    const body = { aliases: {}, mappings: idx.mappings, settings: { index: settings } };
    if (idx.dataStream) body.data_stream = idx.dataStream;
    out[idx.name] = body;
  }
  return ok(out);
}

function putIndex(ctx) {
  const name = ctx.params.index;
  validateIndexName(name);
  const existing = ctx.store.indices.get(name);
  if (existing || ctx.store.dataStreams.has(name)) {
    throw new EsError(400, 'resource_already_exists_exception', `index [${name}/${existing?.uuid ?? '_na_'}] already exists`, { index_uuid: existing?.uuid ?? '_na_', index: name });
  }
  const template = ctx.store.findTemplate(name);
  if (template?.body.data_stream) {
    throw new EsError(400, 'illegal_argument_exception', `cannot create index with name [${name}], because it matches with template [${template.name}] that creates data streams only, use create data stream api instead`);
  }
  const body = ctx.text ? ctx.json() : {};
  // An explicit body wins over the template, key by key, as in Elasticsearch (simplified).
  const merged = template ?? { name: null, body: { template: {} } };
  const effective = { name: merged.name, body: { template: { ...merged.body.template, ...(body.mappings ? { mappings: body.mappings } : {}), ...(body.settings ? { settings: body.settings } : {}) } } };
  ctx.store.createIndex(name, { template: effective });
  return ok({ acknowledged: true, shards_acknowledged: true, index: name });
}

function deleteIndex(ctx) {
  for (const n of ctx.params.index.split(',')) ctx.store.deleteIndex(n);
  return ACK();
}

function headIndex(ctx) {
  try {
    ctx.store.resolveRead(ctx.params.index);
    return ok({});
  } catch (err) {
    if (err.status === 404) return ok({}, 404);
    throw err;
  }
}

// ---- router -------------------------------------------------------------------------------

const ROUTES = [
  ['/', { GET: info }],
  ['/_cluster/health', { GET: health }],
  ['/_cluster/health/{index}', { GET: health }],
  ['/_index_template', { GET: getTemplates }],
  ['/_index_template/{name}', { GET: getTemplates, PUT: putTemplate, POST: putTemplate, DELETE: deleteTemplate }],
  ['/_ilm/policy', { GET: getPolicies }],
  ['/_ilm/policy/{name}', { GET: getPolicies, PUT: putPolicy, DELETE: deletePolicy }],
  ['/_data_stream', { GET: getDataStreams }],
  ['/_data_stream/{name}', { GET: getDataStreams, PUT: putDataStream, DELETE: deleteDataStream }],
  ['/_bulk', { POST: bulk, PUT: bulk }],
  ['/{index}/_bulk', { POST: bulk, PUT: bulk }],
  ['/_count', { GET: count, POST: count }],
  ['/{index}/_count', { GET: count, POST: count }],
  ['/_search', { GET: search, POST: search }],
  ['/{index}/_search', { GET: search, POST: search }],
  ['/_refresh', { GET: refresh, POST: refresh }],
  ['/{index}/_refresh', { GET: refresh, POST: refresh }],
  ['/{index}/_doc/{id}', { GET: getDoc }],
  ['/{index}', { GET: getIndex, HEAD: headIndex, PUT: putIndex, DELETE: deleteIndex }],
].map(([pattern, methods]) => ({ segs: pattern === '/' ? [] : pattern.slice(1).split('/'), methods }));

function matchRoute(route, segs) {
  if (route.segs.length !== segs.length) return null;
  const params = {};
  for (let i = 0; i < segs.length; i++) {
    const want = route.segs[i];
    const got = segs[i];
    if (want.startsWith('{')) {
      if (got === '') return null;
      // An index name never starts with '_' (except _all): "/_foo/_count" is not a route.
      if (want === '{index}' && got.startsWith('_') && got !== '_all') return null;
      params[want.slice(1, -1)] = got;
    } else if (want !== got) {
      return null;
    }
  }
  return params;
}

// Returns {handler, params} or throws 404/405 like Elasticsearch.
export function route(method, pathname) {
  let segs;
  try {
    segs = pathname === '/' ? [] : pathname.replace(/\/$/, '').slice(1).split('/').map(decodeURIComponent);
  } catch {
    throw new EsError(400, 'illegal_argument_exception', `invalid URI [${pathname}]`);
  }
  const allowed = new Set();
  for (const r of ROUTES) {
    const params = matchRoute(r, segs);
    if (!params) continue;
    const handler = r.methods[method] ?? (method === 'HEAD' ? r.methods.GET : undefined);
    if (handler) return { handler, params };
    for (const m of Object.keys(r.methods)) allowed.add(m);
    if (r.methods.GET) allowed.add('HEAD');
  }
  if (allowed.size) {
    const list = [...allowed].sort();
    throw new EsPlainError(405, `Incorrect HTTP method for uri [${pathname}] and method [${method}], allowed: [${list.join(', ')}]`, { Allow: list.join(',') });
  }
  // Elasticsearch answers 400 here; the collector's tests asked for 404 (see README).
  throw new EsPlainError(404, `no handler found for uri [${pathname}] and method [${method}]`);
}
