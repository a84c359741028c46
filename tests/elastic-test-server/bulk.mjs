// POST /_bulk: NDJSON parsing (whole-request errors) and execution (per-item results), following
// Elasticsearch 8's BulkRequestParser and TransportBulkAction closely enough that a client's
// handling of each outcome can be tested: created, 409 on create of an existing _id, data stream
// op_type rules, mapping errors, and injected item faults.
import { EsError } from './http.mjs';
import { checkDocument } from './mapping.mjs';
import { generateId } from './store.mjs';

const ACTIONS = new Set(['create', 'index', 'update', 'delete']);
const ACTION_PARAMS = new Set(['_index', '_id', 'routing', 'pipeline', 'require_alias', 'require_data_stream', 'if_seq_no', 'if_primary_term', 'version', 'version_type', 'retry_on_conflict', 'dynamic_templates', 'list_executed_pipelines', '_source']);
const UPDATE_KEYS = new Set(['doc', 'upsert', 'doc_as_upsert', 'script', 'scripted_upsert', 'detect_noop', '_source']);

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function jsonTokenName(v) {
  if (v === null) return 'VALUE_NULL';
  if (Array.isArray(v)) return 'START_ARRAY';
  if (typeof v === 'string') return 'VALUE_STRING';
  if (typeof v === 'number') return 'VALUE_NUMBER';
  if (typeof v === 'boolean') return 'VALUE_BOOLEAN';
  return 'START_OBJECT';
}

// Returns the operations [{action, meta, raw, line}] or throws an EsError for the whole request.
export function parseBulk(text, urlIndex) {
  if (text.length === 0) throw new EsError(400, 'parse_exception', 'request body is required');
  // Checked before anything else, exactly like Elasticsearch: a body whose last line has no
  // newline is refused whole, even if every line is valid JSON.
  if (!text.endsWith('\n')) {
    throw new EsError(400, 'illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]');
  }
  const lines = text.split('\n');
  lines.pop(); // the empty string after the final newline
  const ops = [];
  const validation = [];
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i];
    if (line.trim() === '') continue; // Elasticsearch skips empty action lines
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      throw new EsError(400, 'x_content_parse_exception', `[${lineNo}:1] Malformed action/metadata line [${lineNo}]: ${err.message}`);
    }
    if (!isPlainObject(parsed)) {
      throw new EsError(400, 'illegal_argument_exception', `Malformed action/metadata line [${lineNo}], expected START_OBJECT or END_OBJECT but found [${jsonTokenName(parsed)}]`);
    }
    const keys = Object.keys(parsed);
    if (keys.length !== 1 || !ACTIONS.has(keys[0])) {
      const found = keys.find((k) => !ACTIONS.has(k)) ?? keys[1];
      throw new EsError(400, 'illegal_argument_exception', `Malformed action/metadata line [${lineNo}], expected field [create], [delete], [index] or [update] but found [${found}]`);
    }
    const action = keys[0];
    const meta = parsed[action];
    if (!isPlainObject(meta)) {
      throw new EsError(400, 'illegal_argument_exception', `Malformed action/metadata line [${lineNo}], expected START_OBJECT but found [${jsonTokenName(meta)}]`);
    }
    for (const k of Object.keys(meta)) {
      if (!ACTION_PARAMS.has(k)) throw new EsError(400, 'illegal_argument_exception', `Action/metadata line [${lineNo}] contains an unknown parameter [${k}]`);
    }
    const op = { action, meta, line: lineNo, index: meta._index ?? urlIndex, raw: null };
    if (!op.index) validation.push('index is missing');
    if ((action === 'update' || action === 'delete') && (meta._id === undefined || meta._id === '')) validation.push('id is missing');
    if (action !== 'delete') {
      // The source is the next line, whatever it contains.
      if (i + 1 >= lines.length) {
        validation.push('source is missing', 'content type is missing');
      } else {
        op.raw = lines[++i];
      }
      if (action === 'update' && op.raw !== null) op.update = parseUpdateBody(op.raw, i + 1);
    }
    ops.push(op);
  }
  if (ops.length === 0) validation.push('no requests added');
  if (validation.length) {
    throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: ' + validation.map((v, n) => `${n + 1}: ${v};`).join(''));
  }
  return ops;
}

// The body of an update action is parsed with the request (a bad one fails the whole bulk).
function parseUpdateBody(raw, lineNo) {
  let body;
  try {
    body = JSON.parse(raw);
  } catch (err) {
    throw new EsError(400, 'x_content_parse_exception', `[${lineNo}:1] ${err.message}`);
  }
  if (!isPlainObject(body)) throw new EsError(400, 'x_content_parse_exception', `[${lineNo}:1] [UpdateRequest] Expected START_OBJECT but was: ${jsonTokenName(body)}`);
  for (const k of Object.keys(body)) {
    if (!UPDATE_KEYS.has(k)) throw new EsError(400, 'x_content_parse_exception', `[${lineNo}:2] [UpdateRequest] unknown field [${k}]`);
  }
  return body;
}

function deepMerge(target, patch) {
  const out = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k], v) : v;
  }
  return out;
}

function stableEqual(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

const SHARDS_OK = () => ({ total: 1, successful: 1, failed: 0 });

// Runs the operations against the store. `faults` supplies injected item failures.
// Returns the response body {took, errors, items}.
export function executeBulk(store, ops, faults) {
  const started = process.hrtime.bigint();
  const items = ops.map((op) => ({ [op.action]: executeOne(store, op, faults) }));
  const errors = items.some((it) => Object.values(it)[0].error !== undefined);
  const took = Number((process.hrtime.bigint() - started) / 1000000n);
  return { took, errors, items };
}

function executeOne(store, op, faults) {
  const { action, meta } = op;
  let id = meta._id === undefined || meta._id === null ? undefined : String(meta._id);
  if (id === undefined && (action === 'index' || action === 'create')) id = generateId();

  // The source as an object (null when it is not one; that is reported after target resolution).
  let source = null;
  if (action === 'index' || action === 'create') {
    try {
      const v = JSON.parse(op.raw);
      if (isPlainObject(v)) source = v;
    } catch {
      source = null;
    }
  } else if (action === 'update') {
    source = op.update.doc ?? op.update.upsert ?? null;
  }

  const failure = (status, error, indexName = op.index) => ({ _index: indexName, _id: id ?? null, status, error });

  // Injected item faults come first: the document is simply not stored.
  const existingStream = store.dataStreams.get(op.index);
  const shownIndex = existingStream ? existingStream.indices.at(-1) : op.index;
  const injected = faults.takeItemStatus(source, { action, index: op.index, id });
  if (injected) return failure(injected.status, injected.error, shownIndex);

  let target;
  try {
    target = store.writeTarget(op.index);
  } catch (err) {
    if (err instanceof EsError) return failure(err.status, { type: err.type, reason: err.reason, ...err.extra });
    throw err;
  }
  const index = target.index;
  if (target.dataStream && action !== 'create') {
    return failure(400, { type: 'illegal_argument_exception', reason: 'only write ops with an op_type of create are allowed in data streams' }, index.name);
  }

  const engineError = (status, type, reason) => failure(status, { type, reason, index_uuid: index.uuid, shard: '0', index: index.name }, index.name);
  const existing = id === undefined ? undefined : index.docs.get(id);

  if (meta.if_seq_no !== undefined || meta.if_primary_term !== undefined) {
    const want = `required seqNo [${meta.if_seq_no}], primary term [${meta.if_primary_term}]`;
    if (!existing) return engineError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, ${want}. but no document was found`);
    if (existing.seqNo !== Number(meta.if_seq_no) || Number(meta.if_primary_term) !== 1) {
      return engineError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, ${want}. current document has seqNo [${existing.seqNo}] and primary term [1]`);
    }
  }

  const parseCheck = (doc, raw) => checkDocument(doc, index.mappings, { id, raw, isDataStream: index.dataStream !== null });
  const write = (doc, raw, status, result) => {
    index.seqNo += 1;
    const version = (existing?.version ?? 0) + 1;
    const text = raw ?? JSON.stringify(doc);
    index.docs.set(id, { version, seqNo: index.seqNo, source: store.keepSources ? text : null });
    return { _index: index.name, _id: id, _version: version, result, _shards: SHARDS_OK(), _seq_no: index.seqNo, _primary_term: 1, status };
  };

  switch (action) {
    case 'create':
    case 'index': {
      if (!source) {
        return failure(400, {
          type: 'mapper_parsing_exception',
          reason: 'failed to parse',
          caused_by: { type: 'not_x_content_exception', reason: 'Compressor detection can only be called on some xcontent bytes or compressed xcontent bytes' },
        }, index.name);
      }
      // Mapping errors are found while parsing the document, before the version check.
      const parseError = parseCheck(source, op.raw);
      if (parseError) return failure(400, parseError, index.name);
      if (existing && action === 'create') {
        return engineError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists (current version [${existing.version}])`);
      }
      return existing ? write(source, op.raw, 200, 'updated') : write(source, op.raw, 201, 'created');
    }
    case 'update': {
      const body = op.update;
      if (body.script !== undefined) return failure(400, { type: 'illegal_argument_exception', reason: 'scripts are not supported by the Elasticsearch test server' }, index.name);
      if (!existing) {
        const doc = body.doc_as_upsert ? body.doc : body.upsert;
        if (!doc) return engineError(404, 'document_missing_exception', `[${id}]: document missing`);
        const parseError = parseCheck(doc, JSON.stringify(doc));
        if (parseError) return failure(400, parseError, index.name);
        return write(doc, null, 201, 'created');
      }
      const current = existing.source === null ? {} : JSON.parse(existing.source);
      const merged = deepMerge(current, body.doc ?? {});
      if (body.detect_noop !== false && stableEqual(merged, current)) {
        return { _index: index.name, _id: id, _version: existing.version, result: 'noop', _shards: { total: 0, successful: 0, failed: 0 }, _seq_no: existing.seqNo, _primary_term: 1, status: 200 };
      }
      const parseError = parseCheck(merged, JSON.stringify(merged));
      if (parseError) return failure(400, parseError, index.name);
      return write(merged, null, 200, 'updated');
    }
    case 'delete': {
      index.seqNo += 1; // a delete of a missing document is still an operation with a seq_no
      if (!existing) {
        return { _index: index.name, _id: id, _version: 1, result: 'not_found', _shards: SHARDS_OK(), _seq_no: index.seqNo, _primary_term: 1, status: 404 };
      }
      index.docs.delete(id);
      return { _index: index.name, _id: id, _version: existing.version + 1, result: 'deleted', _shards: SHARDS_OK(), _seq_no: index.seqNo, _primary_term: 1, status: 200 };
    }
    default:
      throw new Error(`unreachable action ${action}`);
  }
}
