// A deliberately small model of Elasticsearch mappings, enough for two things:
// 1. validateMappings: reject what a real cluster rejects when an index template is PUT
//    (unknown field types, unknown parameters on the common types, bad root keys), so a typo in
//    the collector's template fails here rather than first in production;
// 2. checkDocument: reject a document whose value cannot be coerced into the declared type of
//    its field (document_parsing_exception), which is what drives the collector's dead-letter
//    path. Only explicitly declared fields are checked: there is no dynamic mapping (a field
//    first seen as a number does not make a later string fail) and dynamic_templates are
//    validated but not applied.
import { EsError } from './http.mjs';

const COMMON_LEAF = ['type', 'meta', 'copy_to', 'store', 'index', 'doc_values', 'script', 'on_script_error', 'boost'];
const NUMERIC = ['coerce', 'ignore_malformed', 'null_value', 'time_series_dimension', 'time_series_metric'];
const PARAMS = {
  keyword: ['eager_global_ordinals', 'fields', 'ignore_above', 'index_options', 'norms', 'null_value', 'similarity', 'normalizer', 'split_queries_on_whitespace', 'time_series_dimension'],
  constant_keyword: ['value'],
  wildcard: ['ignore_above', 'null_value'],
  text: ['analyzer', 'eager_global_ordinals', 'fielddata', 'fielddata_frequency_filter', 'fields', 'index_options', 'index_prefixes', 'index_phrases', 'norms', 'position_increment_gap', 'search_analyzer', 'search_quote_analyzer', 'similarity', 'term_vector'],
  match_only_text: ['fields'],
  long: NUMERIC, integer: NUMERIC, short: NUMERIC, byte: NUMERIC, unsigned_long: NUMERIC,
  double: NUMERIC, float: NUMERIC, half_float: NUMERIC,
  scaled_float: [...NUMERIC, 'scaling_factor'],
  date: ['format', 'locale', 'ignore_malformed', 'null_value'],
  date_nanos: ['format', 'locale', 'ignore_malformed', 'null_value'],
  boolean: ['null_value', 'ignore_malformed'],
  ip: ['ignore_malformed', 'null_value', 'time_series_dimension'],
  flattened: ['depth_limit', 'eager_global_ordinals', 'ignore_above', 'index_options', 'null_value', 'similarity', 'split_queries_on_whitespace', 'time_series_dimensions'],
};
// Types we know exist but whose parameters we do not check.
const OTHER_TYPES = new Set(['binary', 'geo_point', 'geo_shape', 'point', 'shape', 'integer_range', 'long_range', 'float_range', 'double_range', 'date_range', 'ip_range', 'alias', 'version', 'histogram', 'aggregate_metric_double', 'dense_vector', 'sparse_vector', 'rank_feature', 'rank_features', 'completion', 'search_as_you_type', 'token_count', 'percolator', 'join', 'annotated_text', 'semantic_text', 'counted_keyword', 'passthrough']);
const OBJECT_PARAMS = { object: ['type', 'properties', 'dynamic', 'enabled', 'subobjects'], nested: ['type', 'properties', 'dynamic', 'include_in_parent', 'include_in_root'] };
const ROOT_KEYS = new Set(['properties', 'dynamic', 'dynamic_templates', '_source', '_meta', '_routing', 'date_detection', 'numeric_detection', 'dynamic_date_formats', 'runtime', 'enabled', 'subobjects', '_data_stream_timestamp', '_field_names']);

function mapperError(reason) {
  return new EsError(400, 'mapper_parsing_exception', reason);
}

export function validateMappings(mappings) {
  if (mappings === undefined || mappings === null) return;
  if (typeof mappings !== 'object' || Array.isArray(mappings)) throw mapperError('mappings must be an object');
  const unsupported = Object.keys(mappings).filter((k) => !ROOT_KEYS.has(k));
  if (unsupported.length) {
    throw mapperError(`Root mapping definition has unsupported parameters:  ${unsupported.map((k) => `[${k} : ${JSON.stringify(mappings[k])}]`).join(' ')}`);
  }
  checkDynamic(mappings.dynamic, '_doc');
  if (mappings.dynamic_templates !== undefined) {
    if (!Array.isArray(mappings.dynamic_templates)) throw mapperError('Dynamic template syntax error. An array of named objects is expected.');
    for (const entry of mappings.dynamic_templates) {
      const names = entry && typeof entry === 'object' ? Object.keys(entry) : [];
      if (names.length !== 1) throw mapperError('Dynamic template syntax error. An array of named objects is expected.');
      const tpl = entry[names[0]];
      if (!tpl || typeof tpl !== 'object' || (tpl.mapping === undefined && tpl.runtime === undefined)) {
        throw mapperError(`template [${names[0]}] must have either mapping or runtime set`);
      }
      const t = tpl.mapping?.type;
      if (t && !t.includes('{') && !isKnownType(t)) {
        throw mapperError(`dynamic template [${names[0]}] has invalid content [${JSON.stringify(tpl)}], attempted to validate it with the following match_mapping_type: [${tpl.match_mapping_type ?? '*'}], caused by [No mapper found for type [${t}]]`);
      }
    }
  }
  validateProperties(mappings.properties, '');
}

function isKnownType(t) {
  return t in PARAMS || t in OBJECT_PARAMS || OTHER_TYPES.has(t);
}

function checkDynamic(value, path) {
  if (value === undefined) return;
  if (![true, false, 'true', 'false', 'strict', 'runtime'].includes(value)) {
    throw mapperError(`Could not convert [${path}.dynamic] to boolean`);
  }
}

function validateProperties(props, prefix) {
  if (props === undefined) return;
  if (!props || typeof props !== 'object' || Array.isArray(props)) throw mapperError(`Expected map for property [properties] on field [${prefix || '_doc'}] but got a class java.lang.String`);
  for (const [name, def] of Object.entries(props)) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (!def || typeof def !== 'object' || Array.isArray(def)) throw mapperError(`Expected map for property [fields] on field [${path}] but got a class java.lang.String`);
    const type = def.type ?? 'object';
    if (typeof type !== 'string' || !isKnownType(type)) throw mapperError(`No handler for type [${type}] declared on field [${name}]`);
    if (type in OBJECT_PARAMS) {
      for (const k of Object.keys(def)) {
        if (!OBJECT_PARAMS[type].includes(k)) throw mapperError(`unknown parameter [${k}] on mapper [${path}] of type [${type}]`);
      }
      checkDynamic(def.dynamic, path);
      validateProperties(def.properties, path);
      continue;
    }
    if (type in PARAMS) {
      for (const k of Object.keys(def)) {
        if (!COMMON_LEAF.includes(k) && !PARAMS[type].includes(k)) throw mapperError(`unknown parameter [${k}] on mapper [${path}] of type [${type}]`);
      }
      if (type === 'scaled_float' && def.scaling_factor === undefined) throw mapperError(`Failed to parse mapping: Field [scaling_factor] is required`);
      if (def.fields !== undefined) validateProperties(def.fields, path);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Document checks.

const INT_RANGES = {
  byte: [-128, 127],
  short: [-32768, 32767],
  integer: [-2147483648, 2147483647],
  long: [-9223372036854775808, 9223372036854775807],
  unsigned_long: [0, 18446744073709551615],
};
const FLOATS = new Set(['double', 'float', 'half_float', 'scaled_float']);
const STRINGY = new Set(['keyword', 'text', 'wildcard', 'constant_keyword', 'match_only_text', 'ip', 'version']);

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// `mappings` is the index's mappings (from the template at index creation), `isDataStream`
// adds the implicit @timestamp date mapping and its presence check. Returns null or the error
// object of a bulk item ({type, reason, caused_by}).
export function checkDocument(source, mappings, { id, raw, isDataStream }) {
  let props = mappings?.properties ?? {};
  if (isDataStream) {
    if (!props['@timestamp']) props = { ...props, '@timestamp': { type: 'date' } };
    const ts = lookup(source, '@timestamp');
    if (ts === undefined || ts === null) {
      return {
        type: 'document_parsing_exception',
        reason: `[1:${raw.length}] failed to parse: data stream timestamp field [@timestamp] is missing`,
        caused_by: { type: 'illegal_argument_exception', reason: 'data stream timestamp field [@timestamp] is missing' },
      };
    }
  }
  const ctx = { id, raw };
  try {
    walkObject(source, props, '', dynamicOf(mappings?.dynamic, true), ctx);
    return null;
  } catch (err) {
    if (err instanceof DocError) return err.item;
    throw err;
  }
}

class DocError extends Error {
  constructor(item) {
    super(item.reason);
    this.item = item;
  }
}

function dynamicOf(value, inherited) {
  if (value === undefined) return inherited;
  if (value === 'strict') return 'strict';
  return value === false || value === 'false' ? false : true;
}

// A top-level value with a dotted key ("payload.type") addresses the same field as nesting.
function lookup(obj, path) {
  if (!isPlainObject(obj)) return undefined;
  if (path in obj) return obj[path];
  const [head, ...rest] = path.split('.');
  return rest.length ? lookup(obj[head], rest.join('.')) : undefined;
}

function walkObject(obj, props, prefix, dynamic, ctx) {
  for (const [key, value] of Object.entries(obj)) {
    const segs = key.split('.');
    let curProps = props;
    let curDynamic = dynamic;
    let path = prefix;
    let def;
    let i = 0;
    // Dotted keys: walk the intermediate object mappings.
    for (; i < segs.length; i++) {
      path = path ? `${path}.${segs[i]}` : segs[i];
      def = curProps?.[segs[i]];
      if (i === segs.length - 1) break;
      if (!def) break;
      const type = def.type ?? 'object';
      if (type !== 'object' && type !== 'nested') {
        fail(ctx, path, `Could not dynamically add mapping for field [${path}.${segs[i + 1]}]. Existing mapping for [${path}] must be of type object but found [${type}].`, 'document_parsing_exception');
      }
      if (def.enabled === false) return; // nothing below a disabled object is parsed
      curDynamic = dynamicOf(def.dynamic, curDynamic);
      curProps = def.properties ?? {};
    }
    if (!def) {
      if (curDynamic === 'strict') {
        const parent = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '_doc';
        fail(ctx, path, `mapping set to strict, dynamic introduction of [${path.split('.').pop()}] within [${parent}] is not allowed`, 'strict_dynamic_mapping_exception');
      }
      continue; // dynamic (or ignored) field: accepted as is
    }
    checkValue(value, def, path, curDynamic, ctx);
  }
}

function checkValue(value, def, path, dynamic, ctx) {
  if (Array.isArray(value)) {
    for (const el of value) checkValue(el, def, path, dynamic, ctx);
    return;
  }
  if (value === null) return; // null means "no value" for every type
  const type = def.type ?? 'object';
  if (type === 'object' || type === 'nested') {
    if (def.enabled === false) return;
    if (!isPlainObject(value)) {
      fail(ctx, path, `object mapping for [${path}] tried to parse field [${path.split('.').pop()}] as object, but found a concrete value`, 'document_parsing_exception');
    }
    walkObject(value, def.properties ?? {}, path, dynamicOf(def.dynamic, dynamic), ctx);
    return;
  }
  if (def.ignore_malformed === true) return;
  if (type === 'flattened' || OTHER_TYPES.has(type)) return;
  const cause = coercionProblem(value, type, def);
  if (cause) {
    const preview = typeof value === 'string' ? value : JSON.stringify(value);
    fail(
      ctx,
      path,
      `failed to parse field [${path}] of type [${type}] in document with id '${ctx.id}'. Preview of field's value: '${preview}'`,
      'document_parsing_exception',
      cause,
      value,
    );
  }
}

// Returns null when `value` fits `type`, else the `caused_by` of the error.
function coercionProblem(value, type, def) {
  if (isPlainObject(value)) {
    return { type: 'illegal_state_exception', reason: `Can't get text on a START_OBJECT` };
  }
  const coerce = def.coerce !== false;
  if (FLOATS.has(type) || type in INT_RANGES) {
    let n;
    if (typeof value === 'number') n = value;
    else if (typeof value === 'string' && coerce && value.trim() !== '') n = Number(value.trim());
    else if (typeof value === 'string') {
      return coerce
        ? { type: 'number_format_exception', reason: 'empty String' }
        : { type: 'illegal_argument_exception', reason: `[coerce] is false, string value [${value}] cannot be parsed as a number` };
    } else return { type: 'illegal_argument_exception', reason: `Current token (${value === true ? 'VALUE_TRUE' : 'VALUE_FALSE'}) not numeric, can not use numeric value accessors` };
    if (Number.isNaN(n)) return { type: 'number_format_exception', reason: `For input string: "${value}"` };
    if (!Number.isFinite(n)) return { type: 'illegal_argument_exception', reason: `[${type}] supports only finite values, but got [${value}]` };
    if (type in INT_RANGES) {
      const [lo, hi] = INT_RANGES[type];
      if (n < lo || n > hi) return { type: 'illegal_argument_exception', reason: `Value [${value}] is out of range for ${type === 'integer' ? 'an integer' : `a ${type}`}` };
      if (!coerce && !Number.isInteger(n)) return { type: 'illegal_argument_exception', reason: `Value [${value}] has a decimal part` };
    }
    return null;
  }
  if (type === 'date' || type === 'date_nanos') {
    const format = def.format ?? 'strict_date_optional_time||epoch_millis';
    if (dateMatches(value, format)) return null;
    return { type: 'illegal_argument_exception', reason: `failed to parse date field [${value}] with format [${format}]` };
  }
  if (type === 'boolean') {
    if (typeof value === 'boolean' || value === 'true' || value === 'false' || value === '') return null;
    return { type: 'illegal_argument_exception', reason: `Failed to parse value [${value}] as only [true] or [false] are allowed.` };
  }
  if (STRINGY.has(type)) return null; // any scalar becomes its string form
  return null;
}

const ISO = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$/;

// Formats we understand; a format we do not know accepts everything (documented limitation).
function dateMatches(value, format) {
  const parts = format.split('||').map((f) => f.trim());
  let understood = false;
  for (const f of parts) {
    if (f === 'epoch_millis' || f === 'epoch_second') {
      understood = true;
      if (typeof value === 'number' && Number.isFinite(value)) return true;
      if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) return true;
    } else if (f === 'strict_date_optional_time' || f === 'date_optional_time' || f === 'strict_date_optional_time_nanos') {
      understood = true;
      if (typeof value === 'string' && isoValid(value)) return true;
    } else if (f === 'strict_date_time' || f === 'date_time') {
      understood = true;
      if (typeof value === 'string' && /T\d{2}:\d{2}:\d{2}\.\d+/.test(value) && isoValid(value)) return true;
    } else {
      return true;
    }
  }
  return !understood;
}

function isoValid(s) {
  const m = ISO.exec(s);
  if (!m) return false;
  const [, , mo, d, h, mi, sec] = m;
  if (mo !== undefined && (+mo < 1 || +mo > 12)) return false;
  if (d !== undefined) {
    const days = new Date(Date.UTC(+m[1], +mo, 0)).getUTCDate();
    if (+d < 1 || +d > days) return false;
  }
  if (h !== undefined && +h > 23) return false;
  if (mi !== undefined && +mi > 59) return false;
  if (sec !== undefined && +sec > 59) return false;
  return true;
}

// Column of the offending value in the source line, for the "[1:N]" prefix Elasticsearch puts
// in parse errors (approximate: the end of the first occurrence of the key's value).
function columnOf(raw, path, value) {
  const key = JSON.stringify(path.split('.').pop());
  const at = raw.indexOf(key);
  if (at < 0) return raw.length;
  const token = value === undefined ? '' : JSON.stringify(value);
  const v = raw.indexOf(token, at + key.length);
  return v < 0 ? at + key.length + 1 : v + token.length;
}

function fail(ctx, path, reason, type, causedBy, value) {
  const col = columnOf(ctx.raw, path, value);
  const item = { type, reason: `[1:${col}] ${reason}` };
  if (causedBy) item.caused_by = causedBy;
  throw new DocError(item);
}
