// The read side: the subset of _count and _search a "verify" tool needs to count a run's events
// and find duplicates. Documents are matched exactly (no analysis, no scoring): every hit has
// _score 1.0. Supported queries: match_all, match_none, term, terms, ids, exists, range, prefix,
// match (exact value), bool (must, filter, should, must_not, minimum_should_match); `q=` in the
// URL: `*`, `field:value`, `field:"value"`. Aggregations: terms, cardinality, value_count.
import { EsError } from './http.mjs';

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function parsingError(reason) {
  return new EsError(400, 'parsing_exception', reason, { line: 1, col: 1 });
}

// Every value at a dotted path, looking through arrays and dotted keys.
export function fieldValues(doc, path) {
  if (path === '_id') return [doc._id];
  if (path === '_index') return [doc._index];
  const out = [];
  collect(doc._source, path.split('.'), 0, out);
  return out;
}

function collect(node, segs, i, out) {
  if (i === segs.length) {
    if (Array.isArray(node)) node.forEach((v) => collect(v, segs, i, out));
    else if (node !== undefined && node !== null) out.push(node);
    return;
  }
  if (Array.isArray(node)) {
    node.forEach((v) => collect(v, segs, i, out));
    return;
  }
  if (!isPlainObject(node)) return;
  for (let j = i + 1; j <= segs.length; j++) {
    const key = segs.slice(i, j).join('.');
    if (key in node) collect(node[key], segs, j, out);
  }
}

// Keyword-like equality: 42 matches "42", true matches "true".
function same(a, b) {
  if (a === b) return true;
  if (isPlainObject(a) || isPlainObject(b)) return false;
  return String(a) === String(b);
}

function compare(a, b) {
  const na = typeof a === 'number' ? a : Number(a);
  const nb = typeof b === 'number' ? b : Number(b);
  if (a !== '' && b !== '' && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  const da = Date.parse(a);
  const db = Date.parse(b);
  if (typeof a === 'string' && typeof b === 'string' && Number.isFinite(da) && Number.isFinite(db)) return da - db;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

// A single {field: value} or {field: {value}} clause, as term/prefix/match take.
function fieldClause(kind, body, valueKey) {
  if (!isPlainObject(body) || Object.keys(body).length !== 1) throw parsingError(`[${kind}] query doesn't support multiple fields, found [${Object.keys(body ?? {}).join('] and [')}]`);
  const [field] = Object.keys(body);
  const v = body[field];
  return [field, valueKey && isPlainObject(v) ? v[valueKey] : v];
}

export function compileQuery(q) {
  if (q === undefined) return () => true;
  if (!isPlainObject(q) || Object.keys(q).length !== 1) throw parsingError('query malformed, must start with start_object');
  const [type] = Object.keys(q);
  const body = q[type];
  switch (type) {
    case 'match_all':
      return () => true;
    case 'match_none':
      return () => false;
    case 'term': {
      const [field, value] = fieldClause('term', body, 'value');
      return (doc) => fieldValues(doc, field).some((v) => same(v, value));
    }
    case 'match': {
      const [field, value] = fieldClause('match', body, 'query');
      return (doc) => fieldValues(doc, field).some((v) => same(v, value));
    }
    case 'prefix': {
      const [field, value] = fieldClause('prefix', body, 'value');
      return (doc) => fieldValues(doc, field).some((v) => String(v).startsWith(String(value)));
    }
    case 'terms': {
      const fields = Object.keys(body ?? {}).filter((k) => k !== 'boost');
      if (fields.length !== 1 || !Array.isArray(body[fields[0]])) throw parsingError('[terms] query requires a field with an array of values');
      const values = body[fields[0]];
      return (doc) => fieldValues(doc, fields[0]).some((v) => values.some((w) => same(v, w)));
    }
    case 'ids': {
      const values = new Set((body?.values ?? []).map(String));
      return (doc) => values.has(doc._id);
    }
    case 'exists': {
      if (typeof body?.field !== 'string') throw parsingError('[exists] must be provided with a [field]');
      return (doc) => fieldValues(doc, body.field).length > 0;
    }
    case 'range': {
      const [field, bounds] = fieldClause('range', body, undefined);
      if (!isPlainObject(bounds)) throw parsingError('[range] query malformed, no start_object after query name');
      return (doc) =>
        fieldValues(doc, field).some(
          (v) =>
            (bounds.gt === undefined || compare(v, bounds.gt) > 0) &&
            (bounds.gte === undefined || compare(v, bounds.gte) >= 0) &&
            (bounds.lt === undefined || compare(v, bounds.lt) < 0) &&
            (bounds.lte === undefined || compare(v, bounds.lte) <= 0),
        );
    }
    case 'bool': {
      const list = (k) => [body?.[k] ?? []].flat().map(compileQuery);
      const must = [...list('must'), ...list('filter')];
      const should = list('should');
      const mustNot = list('must_not');
      const minShould = body?.minimum_should_match ?? (should.length && !must.length ? 1 : 0);
      return (doc) =>
        must.every((f) => f(doc)) &&
        !mustNot.some((f) => f(doc)) &&
        should.filter((f) => f(doc)).length >= Number(minShould);
    }
    default:
      throw parsingError(`unknown query [${type}]`);
  }
}

// `q=` of the URI search: only `*`, `field:value` and `field:"value"`.
export function queryFromQ(q) {
  if (q === null || q === undefined) return undefined;
  const s = q.trim();
  if (s === '*' || s === '*:*' || s === '') return { match_all: {} };
  const m = /^([^:\s]+):(?:"((?:[^"\\]|\\.)*)"|(\S+))$/.exec(s);
  if (!m) throw new EsError(400, 'query_shard_exception', `Failed to parse query [${q}]: only "field:value" is supported by the Elasticsearch test server`);
  return { term: { [m[1]]: m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3] } };
}

function docsOf(indices) {
  const out = [];
  for (const idx of indices) {
    for (const [id, d] of idx.docs) {
      out.push({ _index: idx.name, _id: id, _source: d.source === null ? {} : JSON.parse(d.source) });
    }
  }
  return out;
}

const SHARDS = (n) => ({ total: n, successful: n, skipped: 0, failed: 0 });

export function runCount(indices, body, params) {
  const query = body?.query ?? queryFromQ(params.get('q'));
  const match = compileQuery(query);
  const count = docsOf(indices).filter(match).length;
  return { count, _shards: SHARDS(indices.length) };
}

const SEARCH_KEYS = new Set(['query', 'size', 'from', 'aggs', 'aggregations', 'track_total_hits', 'sort', '_source', 'timeout', 'terminate_after', 'seq_no_primary_term', 'version']);

export function runSearch(indices, body, params, { allowIdFieldData = false } = {}) {
  const started = Date.now();
  for (const k of Object.keys(body ?? {})) {
    if (!SEARCH_KEYS.has(k)) throw parsingError(`Unknown key for a START_OBJECT in [${k}].`);
  }
  const query = body?.query ?? queryFromQ(params.get('q'));
  const size = Number(body?.size ?? params.get('size') ?? 10);
  const from = Number(body?.from ?? params.get('from') ?? 0);
  if (from + size > 10000) {
    throw new EsError(400, 'illegal_argument_exception', `Result window is too large, from + size must be less than or equal to: [10000] but was [${from + size}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.`);
  }
  const match = compileQuery(query);
  let docs = docsOf(indices).filter(match);
  const sortSpec = body?.sort === undefined ? [] : [body.sort].flat();
  if (sortSpec.length) docs = sortDocs(docs, sortSpec);
  const total = docs.length;
  const hits = docs.slice(from, from + size).map((d) => {
    const hit = { _index: d._index, _id: d._id, _score: sortSpec.length ? null : 1.0 };
    if (body?._source !== false) hit._source = d._source;
    if (sortSpec.length) hit.sort = sortSpec.map((s) => sortKey(d, s).value ?? null);
    return hit;
  });
  // Like Elasticsearch, totals are exact only up to track_total_hits (default 10,000).
  const tth = body?.track_total_hits ?? 10000;
  const hitsOut = { max_score: hits.length && !sortSpec.length ? 1.0 : null, hits };
  if (tth !== false) {
    const limit = tth === true ? Infinity : Number(tth);
    hitsOut.total = total > limit ? { value: limit, relation: 'gte' } : { value: total, relation: 'eq' };
  }
  const out = {
    took: Date.now() - started,
    timed_out: false,
    _shards: SHARDS(indices.length),
    hits: { total: hitsOut.total, max_score: hitsOut.max_score, hits: hitsOut.hits },
  };
  if (hitsOut.total === undefined) delete out.hits.total;
  const aggs = body?.aggs ?? body?.aggregations;
  if (aggs) out.aggregations = runAggs(docs, aggs, allowIdFieldData);
  return out;
}

function sortKey(doc, spec) {
  if (typeof spec === 'string') return { field: spec, order: spec === '_score' ? 'desc' : 'asc', value: fieldValues(doc, spec)[0] };
  const [field] = Object.keys(spec);
  const o = spec[field];
  const order = typeof o === 'string' ? o : o?.order ?? 'asc';
  return { field, order, value: fieldValues(doc, field)[0] };
}

function sortDocs(docs, specs) {
  return docs
    .map((d, i) => ({ d, i }))
    .sort((a, b) => {
      for (const s of specs) {
        if (s === '_doc' || s === '_score') continue;
        const ka = sortKey(a.d, s);
        const kb = sortKey(b.d, s);
        if (ka.value === undefined && kb.value === undefined) continue;
        if (ka.value === undefined) return 1; // missing values last, as Elasticsearch's default
        if (kb.value === undefined) return -1;
        const c = compare(ka.value, kb.value);
        if (c !== 0) return ka.order === 'desc' ? -c : c;
      }
      return a.i - b.i;
    })
    .map((x) => x.d);
}

function runAggs(docs, aggs, allowIdFieldData) {
  const out = {};
  for (const [name, def] of Object.entries(aggs)) {
    const kinds = Object.keys(def ?? {}).filter((k) => k !== 'meta');
    if (kinds.length !== 1) throw parsingError(`Expected exactly one aggregation type for [${name}]`);
    const kind = kinds[0];
    const field = def[kind]?.field;
    if (typeof field !== 'string') throw parsingError(`[${kind}] aggregation [${name}] requires a [field]`);
    if (field === '_id' && !allowIdFieldData) {
      // Elasticsearch 8 disables fielddata on _id (indices.id_field_data.enabled=false): a
      // verify tool that aggregates on _id would fail against a real cluster, so it fails here.
      const reason = 'Fielddata access on the _id field is disallowed, you can re-enable it by updating the dynamic cluster setting: indices.id_field_data.enabled';
      throw new EsError(400, 'search_phase_execution_exception', 'all shards failed', {
        phase: 'query',
        grouped: true,
        caused_by: { type: 'illegal_argument_exception', reason },
      });
    }
    if (kind === 'terms') out[name] = termsAgg(docs, def.terms);
    else if (kind === 'cardinality') out[name] = { value: new Set(docs.flatMap((d) => fieldValues(d, field).map((v) => JSON.stringify(v)))).size };
    else if (kind === 'value_count') out[name] = { value: docs.reduce((n, d) => n + fieldValues(d, field).length, 0) };
    else throw parsingError(`Unknown aggregation type [${kind}] did you mean [terms]?`);
  }
  return out;
}

function termsAgg(docs, def) {
  const size = def.size ?? 10;
  const minDocCount = def.min_doc_count ?? 1;
  const counts = new Map(); // JSON of the key -> {key, doc_count}
  for (const d of docs) {
    const seen = new Set();
    for (const v of fieldValues(d, def.field)) {
      if (isPlainObject(v)) continue;
      const k = JSON.stringify(v);
      if (seen.has(k)) continue; // a document counts once per key
      seen.add(k);
      const b = counts.get(k) ?? { key: v, doc_count: 0 };
      b.doc_count += 1;
      counts.set(k, b);
    }
  }
  const order = def.order ?? { _count: 'desc' };
  const [[orderBy, dir]] = Object.entries(Array.isArray(order) ? order[0] : order);
  const buckets = [...counts.values()]
    .filter((b) => b.doc_count >= minDocCount)
    .sort((a, b) => {
      let c = orderBy === '_key' ? compare(a.key, b.key) : a.doc_count - b.doc_count;
      if (dir === 'desc') c = -c;
      return c !== 0 ? c : compare(a.key, b.key);
    })
    .map((b) => (typeof b.key === 'boolean' ? { key: b.key ? 1 : 0, key_as_string: String(b.key), doc_count: b.doc_count } : b));
  const shown = buckets.slice(0, size);
  const other = buckets.slice(size).reduce((n, b) => n + b.doc_count, 0);
  return { doc_count_error_upper_bound: 0, sum_other_doc_count: other, buckets: shown };
}
