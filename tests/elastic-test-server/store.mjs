// In-memory state of the fake cluster: indices with their documents, data streams, composable
// index templates and ILM policies. Everything survives controller.restart() (it lives in this
// object, not in the listener), like data on a real node's disk.
import crypto from 'node:crypto';
import { EsError, wildcardMatch } from './http.mjs';
import { validateMappings } from './mapping.mjs';

// Elasticsearch's auto-generated ids are 20 characters of URL-safe base64 (15 bytes).
export function generateId() {
  return crypto.randomBytes(15).toString('base64url');
}

function uuid() {
  return crypto.randomBytes(16).toString('base64url').slice(0, 22);
}

function dateStamp(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}.${p(d.getUTCMonth() + 1)}.${p(d.getUTCDate())}`;
}

// MetadataCreateIndexService.validateIndexOrAliasName, reduced to what matters here.
export function validateIndexName(name) {
  const bad = (why) => new EsError(400, 'invalid_index_name_exception', `Invalid index name [${name}], ${why}`, { 'index_uuid': '_na_', index: name });
  if (!name) throw bad('must not be empty');
  if (/[\\/*?"<>| ,#:]/.test(name)) throw bad('must not contain the following characters [\'\\\\\', \'/\', \'*\', \'?\', \'"\', \'<\', \'>\', \'|\', \' \', \',\', \'#\', \':\']');
  if (/^[_\-+]/.test(name)) throw bad("must not start with '_', '-', or '+'");
  if (name === '.' || name === '..') throw bad("must not be '.' or '..'");
  if (name !== name.toLowerCase()) throw bad('must be lowercase');
  if (Buffer.byteLength(name) > 255) throw bad('index name is too long, (' + Buffer.byteLength(name) + ' > 255)');
}

export class Store {
  constructor({ keepSources = true } = {}) {
    this.keepSources = keepSources;
    this.indices = new Map(); // name -> index (regular indices and data stream backing indices)
    this.dataStreams = new Map(); // stream name -> {name, template, indices:[backing], createdAt}
    this.templates = new Map(); // template name -> body exactly as PUT (controller.templates)
    this.templateVersions = new Map(); // template name -> number of PUTs
    this.policies = new Map(); // policy name -> body exactly as PUT (controller.policies)
    this.policyMeta = new Map(); // policy name -> {version, modified_date}
  }

  // Cleared in place so that references handed out (controller.templates) stay valid.
  clear() {
    for (const m of [this.indices, this.dataStreams, this.templates, this.templateVersions, this.policies, this.policyMeta]) m.clear();
  }

  // ---- templates and policies -----------------------------------------------------------

  putTemplate(name, body) {
    this.templates.set(name, body);
    this.templateVersions.set(name, (this.templateVersions.get(name) ?? 0) + 1);
  }

  // Highest priority template whose index_patterns match `name` (ties cannot happen: overlapping
  // templates of equal priority are refused at PUT time).
  findTemplate(name) {
    let best = null;
    for (const [tname, body] of this.templates) {
      const patterns = [body.index_patterns].flat();
      if (!patterns.some((p) => wildcardMatch(p, name))) continue;
      const prio = body.priority ?? 0;
      if (!best || prio > best.priority) best = { name: tname, body, priority: prio };
    }
    return best;
  }

  putPolicy(name, body) {
    this.policies.set(name, body);
    const meta = this.policyMeta.get(name);
    this.policyMeta.set(name, { version: (meta?.version ?? 0) + 1, modified_date: new Date().toISOString() });
  }

  // ---- indices and data streams ---------------------------------------------------------

  createIndex(name, { template = null, dataStream = null, now = Date.now() } = {}) {
    const settings = flattenSettings(template?.body.template?.settings ?? {});
    const index = {
      name,
      uuid: uuid(),
      createdAt: now,
      template: template?.name ?? null,
      // Mappings are taken from the template when the index is created, as in Elasticsearch:
      // a template installed (or changed) later does not affect an existing index.
      mappings: structuredClone(template?.body.template?.mappings ?? {}),
      settings,
      dataStream,
      hidden: dataStream !== null,
      docs: new Map(), // _id -> {version, seqNo, source (raw JSON text or null)}
      seqNo: -1,
    };
    this.indices.set(name, index);
    return index;
  }

  createDataStream(name, template, now = Date.now()) {
    if (this.indices.has(name)) {
      throw new EsError(400, 'illegal_argument_exception', `data stream [${name}] conflicts with index`);
    }
    const backing = `.ds-${name}-${dateStamp(now)}-000001`;
    const ds = { name, template: template.name, indices: [backing], createdAt: now, generation: 1 };
    this.dataStreams.set(name, ds);
    this.createIndex(backing, { template, dataStream: name, now });
    return ds;
  }

  // Where a write to `name` goes, creating the index or data stream on first use (auto-create,
  // as action.auto_create_index=true does). Returns {index, dataStream}: `dataStream` is set when
  // `name` is a data stream (write ops other than create are refused by the caller).
  writeTarget(name) {
    const ds = this.dataStreams.get(name);
    if (ds) return { index: this.indices.get(ds.indices.at(-1)), dataStream: ds };
    const existing = this.indices.get(name);
    if (existing) return { index: existing, dataStream: null };
    validateIndexName(name);
    const template = this.findTemplate(name);
    if (template?.body.data_stream) {
      const created = this.createDataStream(name, template);
      return { index: this.indices.get(created.indices[0]), dataStream: created };
    }
    return { index: this.createIndex(name, { template }), dataStream: null };
  }

  // Resolves a read expression (comma list, wildcards, _all, data streams) to indices, as the
  // search and count APIs do: a missing concrete name is index_not_found_exception; wildcards
  // that match nothing are fine; hidden (backing) indices only match explicitly.
  resolveRead(expression) {
    const out = new Map();
    const parts = !expression || expression === '_all' ? ['*'] : expression.split(',');
    for (const part of parts) {
      if (part.includes('*')) {
        for (const ds of this.dataStreams.values()) {
          if (wildcardMatch(part, ds.name)) for (const b of ds.indices) out.set(b, this.indices.get(b));
        }
        for (const idx of this.indices.values()) {
          if (!idx.hidden && wildcardMatch(part, idx.name)) out.set(idx.name, idx);
          else if (idx.hidden && part.startsWith('.') && wildcardMatch(part, idx.name)) out.set(idx.name, idx);
        }
        continue;
      }
      const ds = this.dataStreams.get(part);
      if (ds) {
        for (const b of ds.indices) out.set(b, this.indices.get(b));
        continue;
      }
      const idx = this.indices.get(part);
      if (!idx) throw indexNotFound(part);
      out.set(idx.name, idx);
    }
    return [...out.values()];
  }

  deleteIndex(name) {
    if (this.dataStreams.has(name)) {
      throw new EsError(400, 'illegal_argument_exception', `The provided expression [${name}] matches a data stream, specify the corresponding concrete indices instead.`);
    }
    const idx = this.indices.get(name);
    if (!idx) throw indexNotFound(name);
    if (idx.dataStream) {
      throw new EsError(400, 'illegal_argument_exception', `index [${name}] is the write index for data stream [${idx.dataStream}] and cannot be deleted`);
    }
    this.indices.delete(name);
  }

  deleteDataStream(name) {
    const ds = this.dataStreams.get(name);
    if (!ds) throw new EsError(404, 'index_not_found_exception', `no such index [${name}]`, { 'resource.type': 'index_or_alias', 'resource.id': name, index_uuid: '_na_', index: name });
    for (const b of ds.indices) this.indices.delete(b);
    this.dataStreams.delete(name);
  }

  // Documents under a user-facing name: a data stream's (all backing indices) or an index's.
  documents(name) {
    const ds = this.dataStreams.get(name);
    const indices = ds ? ds.indices.map((b) => this.indices.get(b)) : [this.indices.get(name)].filter(Boolean);
    const out = [];
    for (const idx of indices) {
      for (const [id, doc] of idx.docs) out.push(publicDoc(idx, id, doc));
    }
    return out;
  }

  allDocuments() {
    const out = new Map();
    for (const ds of this.dataStreams.values()) out.set(ds.name, this.documents(ds.name));
    for (const idx of this.indices.values()) if (!idx.dataStream) out.set(idx.name, this.documents(idx.name));
    return out;
  }
}

export function publicDoc(idx, id, doc) {
  return {
    _index: idx.name,
    _id: id,
    _version: doc.version,
    _seq_no: doc.seqNo,
    _source: doc.source === null ? null : JSON.parse(doc.source),
  };
}

export function indexNotFound(name) {
  return new EsError(404, 'index_not_found_exception', `no such index [${name}]`, {
    'resource.type': 'index_or_alias',
    'resource.id': name,
    index_uuid: '_na_',
    index: name,
  });
}

// {"index":{"lifecycle":{"name":"p"}}} and {"index.lifecycle.name":"p"} are the same setting.
export function flattenSettings(settings, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(settings ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flattenSettings(v, key, out);
    else out[key.startsWith('index.') ? key : `index.${key}`] = v;
  }
  return out;
}

// ---- validation of PUT _index_template and PUT _ilm/policy bodies ---------------------------

const TEMPLATE_KEYS = new Set(['index_patterns', 'template', 'composed_of', 'priority', 'version', '_meta', 'data_stream', 'allow_auto_create', 'ignore_missing_component_templates', 'deprecated']);
const TEMPLATE_INNER_KEYS = new Set(['settings', 'mappings', 'aliases', 'lifecycle', 'data_stream_options']);

function parseError(reason) {
  return new EsError(400, 'x_content_parse_exception', reason);
}

export function validateTemplate(store, name, body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw parseError('[1:1] [index_template] expected START_OBJECT');
  for (const k of Object.keys(body)) if (!TEMPLATE_KEYS.has(k)) throw parseError(`[1:2] [index_template] unknown field [${k}]`);
  const patterns = body.index_patterns === undefined ? [] : [body.index_patterns].flat();
  if (patterns.length === 0) {
    throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: index patterns are missing;');
  }
  for (const p of patterns) {
    if (typeof p !== 'string' || p === '' || /[ ,\\/?"<>|#]/.test(p) || p.startsWith('_')) {
      throw new EsError(400, 'invalid_index_template_exception', `index_template [${name}] invalid, cause [Validation Failed: 1: index_pattern [${p}] must not contain a space, ',', '\\', '/', '?', '"', '<', '>', '|', '#', or start with '_';]`);
    }
  }
  if (body.priority !== undefined && !(Number.isInteger(body.priority) && body.priority >= 0)) {
    throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: index template priority must be >= 0;');
  }
  if (body.data_stream !== undefined && (typeof body.data_stream !== 'object' || body.data_stream === null || Array.isArray(body.data_stream))) {
    throw parseError('[1:2] [index_template] failed to parse field [data_stream]');
  }
  if (body.template !== undefined) {
    if (typeof body.template !== 'object' || body.template === null) throw parseError('[1:2] [index_template] failed to parse field [template]');
    for (const k of Object.keys(body.template)) if (!TEMPLATE_INNER_KEYS.has(k)) throw parseError(`[1:2] [template] unknown field [${k}]`);
    validateMappings(body.template.mappings);
  }
  const composed = body.composed_of ?? [];
  const ignored = new Set(body.ignore_missing_component_templates ?? []);
  const missing = composed.filter((c) => !ignored.has(c)); // no component templates exist here
  if (missing.length) {
    throw new EsError(400, 'invalid_index_template_exception', `index_template [${name}] invalid, cause [index template [${name}] specifies component templates [${missing.join(', ')}] that do not exist]`);
  }
  // Elasticsearch refuses two templates of the same priority that could match the same index.
  // Real overlap is an automaton intersection; we approximate with "one pattern matches the
  // other" (catches identical and prefix-wildcard patterns).
  const prio = body.priority ?? 0;
  for (const [other, obody] of store.templates) {
    if (other === name || (obody.priority ?? 0) !== prio) continue;
    const op = [obody.index_patterns].flat();
    const overlap = patterns.some((a) => op.some((b) => wildcardMatch(a, b) || wildcardMatch(b, a)));
    if (overlap) {
      throw new EsError(400, 'illegal_argument_exception', `index template [${name}] has index patterns ${JSON.stringify(patterns).replace(/"/g, '')} matching patterns from existing templates [${other}] with patterns (${other} => ${JSON.stringify(op).replace(/"/g, '')}) that have the same priority [${prio}], multiple index templates may not match during index creation, please use a different priority`);
    }
  }
}

const PHASES = ['hot', 'warm', 'cold', 'frozen', 'delete'];
const PHASE_ACTIONS = {
  hot: ['set_priority', 'unfollow', 'rollover', 'readonly', 'downsample', 'shrink', 'forcemerge', 'searchable_snapshot'],
  warm: ['set_priority', 'unfollow', 'readonly', 'downsample', 'allocate', 'migrate', 'shrink', 'forcemerge'],
  cold: ['set_priority', 'unfollow', 'readonly', 'downsample', 'searchable_snapshot', 'allocate', 'migrate', 'freeze'],
  frozen: ['unfollow', 'searchable_snapshot'],
  delete: ['wait_for_snapshot', 'delete'],
};
const ROLLOVER_CONDITIONS = ['max_age', 'max_docs', 'max_size', 'max_primary_shard_size', 'max_primary_shard_docs', 'min_age', 'min_docs', 'min_size', 'min_primary_shard_size', 'min_primary_shard_docs'];
const TIME = /^(\d+)(nanos|micros|ms|s|m|h|d)$/;
const BYTES = /^\d+(\.\d+)?(b|kb|mb|gb|tb|pb)$/i;
const TIME_MS = { nanos: 1e-6, micros: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5 };

function illegal(reason) {
  return new EsError(400, 'illegal_argument_exception', reason);
}

function timeValue(value, setting) {
  const m = TIME.exec(String(value));
  if (!m) throw illegal(`failed to parse setting [${setting}] with value [${value}] as a time value: unit is missing or unrecognized`);
  return Number(m[1]) * TIME_MS[m[2]];
}

export function validatePolicy(name, body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw parseError('[1:1] [put_lifecycle_request] expected START_OBJECT');
  for (const k of Object.keys(body)) if (k !== 'policy') throw parseError(`[1:2] [put_lifecycle_request] unknown field [${k}]`);
  const policy = body.policy;
  if (!policy || typeof policy !== 'object') throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: policy is missing;');
  for (const k of Object.keys(policy)) if (!['phases', '_meta', 'deprecated'].includes(k)) throw parseError(`[1:12] [lifecycle_policy] unknown field [${k}]`);
  if (!policy.phases || typeof policy.phases !== 'object') throw parseError('[1:12] [lifecycle_policy] failed to parse field [phases]: Required [phases]');
  let previous = null;
  for (const phase of PHASES) {
    const def = policy.phases[phase];
    if (def === undefined) continue;
    if (!def || typeof def !== 'object') throw parseError(`[1:12] [phase] failed to parse field [${phase}]`);
    for (const k of Object.keys(def)) if (!['min_age', 'actions'].includes(k)) throw parseError(`[1:12] [phase] unknown field [${k}]`);
    if (!def.actions || typeof def.actions !== 'object') throw parseError(`[1:12] [phase] failed to parse field [actions]: Required [actions]`);
    const minAge = def.min_age === undefined ? 0 : timeValue(def.min_age, 'min_age');
    if (previous && minAge < previous.minAge) {
      throw illegal(`Your policy is configured to run the ${phase} phase (min_age: ${def.min_age}) before the ${previous.phase} phase (min_age: ${previous.raw}). You should change the phase timing so that the phases will execute in the order of hot, warm, then cold.`);
    }
    if (def.min_age !== undefined) previous = { phase, minAge, raw: def.min_age };
    for (const [action, params] of Object.entries(def.actions)) {
      if (!PHASE_ACTIONS[phase].includes(action)) throw illegal(`invalid action [${action}] defined in phase [${phase}]`);
      if (action === 'rollover') {
        const keys = Object.keys(params ?? {});
        for (const k of keys) if (!ROLLOVER_CONDITIONS.includes(k)) throw parseError(`[1:12] [rollover] unknown field [${k}]`);
        if (!keys.some((k) => k.startsWith('max_'))) throw illegal('At least one max_* rollover condition must be set.');
        for (const k of keys) {
          if (k.endsWith('_age')) timeValue(params[k], `rollover.${k}`);
          if (k.endsWith('_size') && !BYTES.test(String(params[k]))) {
            throw new EsError(400, 'parse_exception', `failed to parse setting [${k}] with value [${params[k]}] as a size in bytes: unit is missing or unrecognized`);
          }
        }
      }
    }
  }
  for (const phase of Object.keys(policy.phases)) {
    if (!PHASES.includes(phase)) throw illegal(`Timeseries lifecycle does not support phase [${phase}]`);
  }
}
