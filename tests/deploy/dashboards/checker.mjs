// Structural check of Kibana saved-objects NDJSON files against the index templates the collector
// installs. Kibana is not available on the test machines (see /work/shared/TESTING-HERE.md), so
// this checks what an import would trip over and what would render as an empty or broken panel:
// JSON-in-string attributes that do not parse, references that do not resolve inside the file
// (each file is imported on its own), panels pointing nowhere, and fields that the data view's
// data stream does not map, or maps with a type the operation cannot use.
import fs from 'node:fs';
import path from 'node:path';

// ---- mappings ------------------------------------------------------------------------------------

const AGGREGATABLE = new Set([
  'keyword', 'constant_keyword', 'wildcard', 'long', 'integer', 'short', 'byte', 'unsigned_long', 'double', 'float',
  'half_float', 'scaled_float', 'date', 'date_nanos', 'boolean', 'ip', 'version',
]);
const NUMERIC = new Set(['long', 'integer', 'short', 'byte', 'unsigned_long', 'double', 'float', 'half_float', 'scaled_float']);
const DATE = new Set(['date', 'date_nanos']);

/**
 * Flatten an index template's mappings into Map(path -> { type, searchable }). Objects are listed
 * too (type 'object'); the children of an object with enabled:false are not indexed at all.
 */
export function flattenMappings(mappings) {
  const fields = new Map();
  const walk = (properties, prefix) => {
    for (const [name, m] of Object.entries(properties ?? {})) {
      const p = prefix ? `${prefix}.${name}` : name;
      if (m.enabled === false) {
        fields.set(p, { type: 'object', disabled: true });
        continue;
      }
      const type = m.type ?? 'object';
      fields.set(p, { type, searchable: type !== 'object' && m.index !== false });
      if (m.properties) walk(m.properties, p);
      for (const [sub, sm] of Object.entries(m.fields ?? {})) fields.set(`${p}.${sub}`, { type: sm.type, searchable: sm.index !== false });
    }
  };
  walk(mappings?.properties, '');
  const dynamicTemplates = (mappings?.dynamic_templates ?? []).map((entry) => Object.values(entry)[0]);
  return { fields, dynamicTemplates };
}

function globToRegExp(glob) {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/**
 * From GET /_index_template: a function stream name -> { template, fields, dynamicTemplates } of
 * the highest-priority template whose index_patterns match, as Elasticsearch picks it.
 */
export function mappingResolver(indexTemplatesResponse) {
  const templates = indexTemplatesResponse.index_templates.map(({ name, index_template: t }) => ({
    name,
    patterns: [t.index_patterns].flat(),
    priority: t.priority ?? 0,
    ...flattenMappings(t.template?.mappings),
  }));
  return (stream) => {
    const matching = templates.filter((t) => t.patterns.some((p) => globToRegExp(p).test(stream)));
    matching.sort((a, b) => b.priority - a.priority);
    return matching[0];
  };
}

/**
 * The mapping of `field` in a resolved template, or undefined. A field that only a dynamic
 * template would map (payload.*) exists only once some device sends it, so it counts only when
 * listed in `dynamicFields`: otherwise a misspelling such as payload.typ would pass.
 */
function lookupField(mapping, field, dynamicFields) {
  const f = mapping.fields.get(field);
  if (f) return f;
  // A field below a disabled object is never indexed.
  for (const [p, m] of mapping.fields) if (m.disabled && field.startsWith(`${p}.`)) return { type: 'object', disabled: true };
  for (const dt of mapping.dynamicTemplates) {
    if (dynamicFields.has(field) && dt.path_match && globToRegExp(dt.path_match).test(field) && dt.mapping?.type) {
      return { type: dt.mapping.type, searchable: true, dynamic: true };
    }
  }
  return undefined;
}

// ---- parsing ---------------------------------------------------------------------------------------

/** Parse one NDJSON file: { objects: [{obj, line}], summary, problems }. */
export function parseNdjson(text, file) {
  const problems = [];
  const objects = [];
  let summary;
  if (!text.endsWith('\n')) problems.push(`${file}: does not end with a newline`);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    if (raw.trim() === '') {
      problems.push(`${where}: empty line`);
      return;
    }
    let obj;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      problems.push(`${where}: not JSON: ${e.message}`);
      return;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      problems.push(`${where}: not a JSON object`);
      return;
    }
    if ('exportedCount' in obj) {
      if (i !== lines.length - 1) problems.push(`${where}: export summary line is not the last line`);
      summary = { obj, line: i + 1 };
      return;
    }
    objects.push({ obj, line: i + 1 });
  });
  return { objects, summary, problems };
}

/** JSON.parse of an attribute that Kibana stores as a string; records a problem when it is not. */
function parseJsonString(value, what, problems, { optional = false } = {}) {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string') {
    problems.push(`${what}: must be a JSON string, is ${value === undefined ? 'missing' : typeof value}`);
    return undefined;
  }
  try {
    return JSON.parse(value);
  } catch (e) {
    problems.push(`${what}: does not parse: ${e.message}`);
    return undefined;
  }
}

/** Field names a KQL query refers to (`field: value`, `field >= 3`, `"field": *`). */
export function kqlFields(query) {
  if (!query || typeof query !== 'string') return [];
  const out = [];
  const re = /(?:^|[\s(])(?:"([^"]+)"|([A-Za-z_@][\w.@-]*))\s*(?::|<=|>=|<|>)/g;
  let m;
  while ((m = re.exec(query))) out.push(m[1] ?? m[2]);
  return out;
}

/** Field names the filters of a search source refer to. */
function filterFields(filters) {
  const out = [];
  for (const f of filters ?? []) {
    if (f?.meta?.key) out.push(f.meta.key);
    if (f?.query?.match_phrase) out.push(...Object.keys(f.query.match_phrase));
    if (f?.query?.range) out.push(...Object.keys(f.query.range));
    if (f?.exists?.field) out.push(f.exists.field);
  }
  return out;
}

// Attributes of a dashboard that Kibana's dashboard schema (model version 1/2) accepts; it
// refuses any other.
const DASHBOARD_ATTRIBUTES = new Set([
  'title', 'description', 'kibanaSavedObjectMeta', 'timeRestore', 'timeFrom', 'timeTo', 'refreshInterval',
  'controlGroupInput', 'panelsJSON', 'optionsJSON', 'hits', 'version',
]);
const KNOWN_TYPES = new Set(['index-pattern', 'search', 'visualization', 'lens', 'dashboard']);
const VERSION = /^\d+\.\d+\.\d+$/;

// ---- the check -----------------------------------------------------------------------------------

/**
 * Check the NDJSON files `{ fileName: text }` against `resolve` (from mappingResolver). Returns
 * a list of problems (strings); empty means the files pass. `dynamicFields`: fields the objects
 * may use although only a dynamic template maps them (e.g. a payload.* field every device sends).
 */
export function checkFiles(files, resolve, { dynamicFields = [] } = {}) {
  const dynamic = new Set(dynamicFields);
  const problems = [];
  const byGlobalId = new Map(); // "type/id" -> {file, json}
  for (const [file, text] of Object.entries(files)) {
    const parsed = parseNdjson(text, file);
    problems.push(...parsed.problems);
    if (parsed.objects.length === 0) problems.push(`${file}: no saved objects`);
    if (parsed.summary) {
      const s = parsed.summary.obj;
      if (s.exportedCount !== parsed.objects.length) problems.push(`${file}: summary exportedCount ${s.exportedCount} != ${parsed.objects.length} objects`);
      if (s.missingRefCount !== 0 || (s.missingReferences ?? []).length !== 0) problems.push(`${file}: summary reports missing references`);
    }
    const ids = new Map();
    for (const { obj, line } of parsed.objects) {
      const where = `${file}:${line} ${obj.type}/${obj.id}`;
      for (const k of ['type', 'id', 'attributes', 'references']) if (!(k in obj)) problems.push(`${where}: missing "${k}"`);
      if (typeof obj.id !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(obj.id)) problems.push(`${where}: id is not a readable lower-case id`);
      if (!KNOWN_TYPES.has(obj.type)) problems.push(`${where}: unknown type "${obj.type}"`);
      if (!VERSION.test(obj.coreMigrationVersion ?? '')) problems.push(`${where}: coreMigrationVersion missing or malformed`);
      if (!VERSION.test(obj.typeMigrationVersion ?? '')) problems.push(`${where}: typeMigrationVersion missing or malformed`);
      if (!Array.isArray(obj.references)) {
        problems.push(`${where}: references is not an array`);
        obj.references = [];
      }
      const key = `${obj.type}/${obj.id}`;
      if (ids.has(key)) problems.push(`${where}: duplicate id (also line ${ids.get(key)})`);
      ids.set(key, line);
      // The same object in two files (a data view both need) must be identical, or the file
      // imported last would silently win.
      const json = JSON.stringify(obj);
      const seen = byGlobalId.get(key);
      if (seen && seen.json !== json) problems.push(`${where}: differs from the object with the same id in ${seen.file}`);
      if (!seen) byGlobalId.set(key, { file, json });
    }
    const index = new Map(parsed.objects.map(({ obj }) => [`${obj.type}/${obj.id}`, obj]));
    for (const { obj, line } of parsed.objects) {
      if (typeof obj.attributes !== 'object' || obj.attributes === null) continue;
      checkObject(obj, `${file}:${line} ${obj.type}/${obj.id}`, index, resolve, dynamic, problems);
    }
  }
  return problems;
}

function checkObject(obj, where, index, resolve, dynamicFields, problems) {
  const a = obj.attributes;
  const refs = new Map();
  for (const r of obj.references) {
    if (!r || typeof r.name !== 'string' || typeof r.type !== 'string' || typeof r.id !== 'string') {
      problems.push(`${where}: malformed reference ${JSON.stringify(r)}`);
      continue;
    }
    if (refs.has(r.name)) problems.push(`${where}: two references named "${r.name}"`);
    refs.set(r.name, r);
    if (!index.has(`${r.type}/${r.id}`)) problems.push(`${where}: reference "${r.name}" -> ${r.type}/${r.id} does not resolve inside the file`);
  }
  const used = new Set();
  /** The object a named reference points at (recording the use), or undefined with a problem. */
  const ref = (name, expectType, what) => {
    const r = refs.get(name);
    if (!r) {
      problems.push(`${where}: ${what} names reference "${name}", which is not in references[]`);
      return undefined;
    }
    used.add(name);
    if (expectType && r.type !== expectType) problems.push(`${where}: reference "${name}" has type ${r.type}, expected ${expectType}`);
    return index.get(`${r.type}/${r.id}`);
  };
  /** The mapping behind a data view object. */
  const mappingOf = (dv) => {
    if (!dv || dv.type !== 'index-pattern') return undefined;
    const m = resolve(dv.attributes?.title);
    return m;
  };
  /**
   * Check that `field` exists in the data view's data stream and suits `use`:
   * 'any' (a column in Discover), 'search' (queried), 'agg' (bucketed/aggregated), 'numeric', 'date', 'numericOrDate'.
   */
  const field = (dv, name, use, what) => {
    if (!dv) return;
    const m = mappingOf(dv);
    if (!m) return; // reported on the data view itself
    if (typeof name !== 'string' || name === '') {
      problems.push(`${where}: ${what}: no field name`);
      return;
    }
    if (name === '_id' || name === '_index' || name === '_score') return;
    const f = lookupField(m, name, dynamicFields);
    const stream = dv.attributes.title;
    if (!f) {
      problems.push(`${where}: ${what}: field "${name}" is not in the mapping of ${stream} (template ${m.name})`);
      return;
    }
    const bad = (why) => problems.push(`${where}: ${what}: field "${name}" (${f.disabled ? 'not indexed' : f.type}) in ${stream} ${why}`);
    if (use === 'any') {
      if (f.type === 'object' && !f.disabled) bad('is an object, not a field');
      return;
    }
    if (f.disabled || f.type === 'object' || f.searchable === false) return bad('cannot be searched');
    if (use === 'agg' && !AGGREGATABLE.has(f.type)) bad('is not aggregatable');
    if (use === 'numeric' && !NUMERIC.has(f.type)) bad('is not numeric');
    if (use === 'date' && !DATE.has(f.type)) bad('is not a date');
    if (use === 'numericOrDate' && !NUMERIC.has(f.type) && !DATE.has(f.type)) bad('is neither numeric nor a date');
  };
  const queryFields = (dv, query, what) => {
    for (const f of kqlFields(query?.query)) field(dv, f, 'search', `${what} query`);
  };

  const meta = a.kibanaSavedObjectMeta;
  const searchSource = meta ? parseJsonString(meta.searchSourceJSON, `${where}: kibanaSavedObjectMeta.searchSourceJSON`, problems, { optional: obj.type === 'dashboard' }) : undefined;

  switch (obj.type) {
    case 'index-pattern': {
      for (const k of ['fieldAttrs', 'fieldFormatMap', 'fields', 'runtimeFieldMap', 'sourceFilters', 'typeMeta']) {
        parseJsonString(a[k], `${where}: ${k}`, problems, { optional: true });
      }
      if (typeof a.title !== 'string' || a.title === '') {
        problems.push(`${where}: no title (index pattern)`);
        break;
      }
      // A wildcard would also match the sibling streams (iot-events* matches iot-events-dlq).
      if (/[*,?]/.test(a.title)) problems.push(`${where}: title "${a.title}" is a pattern; a data view must name exactly one data stream`);
      const m = resolve(a.title);
      if (!m) {
        problems.push(`${where}: no index template matches "${a.title}"`);
        break;
      }
      if (a.timeFieldName) field(obj, a.timeFieldName, 'date', 'timeFieldName');
      else problems.push(`${where}: no timeFieldName`);
      const formats = parseJsonString(a.fieldFormatMap, `${where}: fieldFormatMap`, [], { optional: true }) ?? {};
      for (const f of Object.keys(formats)) field(obj, f, 'search', 'fieldFormatMap');
      break;
    }
    case 'search': {
      if (!searchSource) break;
      const dv = searchSource.indexRefName ? ref(searchSource.indexRefName, 'index-pattern', 'searchSourceJSON.indexRefName') : undefined;
      if (!searchSource.indexRefName) problems.push(`${where}: searchSourceJSON has no indexRefName`);
      for (const c of a.columns ?? []) field(dv, c, 'any', 'column');
      for (const s of a.sort ?? []) field(dv, Array.isArray(s) ? s[0] : s, 'agg', 'sort');
      queryFields(dv, searchSource.query, 'searchSourceJSON');
      for (const f of filterFields(searchSource.filter)) field(dv, f, 'search', 'filter');
      break;
    }
    case 'visualization': {
      const vis = parseJsonString(a.visState, `${where}: visState`, problems);
      parseJsonString(a.uiStateJSON, `${where}: uiStateJSON`, problems, { optional: true });
      const dv = searchSource?.indexRefName ? ref(searchSource.indexRefName, 'index-pattern', 'searchSourceJSON.indexRefName') : undefined;
      for (const agg of vis?.aggs ?? []) if (agg.params?.field) field(dv, agg.params.field, 'agg', `aggregation ${agg.id} (${agg.type})`);
      if (searchSource) {
        queryFields(dv, searchSource.query, 'searchSourceJSON');
        for (const f of filterFields(searchSource.filter)) field(dv, f, 'search', 'filter');
      }
      break;
    }
    case 'lens':
      checkLens(a, where, ref, field, queryFields, problems);
      break;
    case 'dashboard':
      checkDashboard(a, where, ref, field, problems, searchSource);
      break;
    default:
      break;
  }
  for (const name of refs.keys()) if (!used.has(name)) problems.push(`${where}: reference "${name}" is not used by the object`);
}

const LENS_OPERATIONS = {
  count: null,
  date_histogram: 'date',
  terms: 'agg',
  average: 'numeric',
  sum: 'numeric',
  median: 'numeric',
  min: 'numericOrDate',
  max: 'numericOrDate',
  last_value: 'agg',
  unique_count: 'agg',
  percentile: 'numeric',
};

function checkLens(a, where, ref, field, queryFields, problems) {
  const state = a.state;
  if (typeof state !== 'object' || state === null) {
    problems.push(`${where}: lens attributes.state is not an object`);
    return;
  }
  if (!['lnsXY', 'lnsDatatable', 'lnsMetric', 'lnsPie', 'lnsLegacyMetric'].includes(a.visualizationType)) {
    problems.push(`${where}: unknown visualizationType ${a.visualizationType}`);
  }
  const layers = state.datasourceStates?.formBased?.layers;
  if (!layers || Object.keys(layers).length === 0) {
    problems.push(`${where}: no datasourceStates.formBased.layers`);
    return;
  }
  const columnIds = new Map(); // layerId -> Set(columnId)
  let firstDv;
  for (const [layerId, layer] of Object.entries(layers)) {
    const dv = ref(`indexpattern-datasource-layer-${layerId}`, 'index-pattern', `layer ${layerId}`);
    firstDv ??= dv;
    const columns = layer.columns ?? {};
    const ids = new Set(Object.keys(columns));
    columnIds.set(layerId, ids);
    const order = layer.columnOrder ?? [];
    if (order.length !== ids.size || !order.every((c) => ids.has(c))) {
      problems.push(`${where}: layer ${layerId}: columnOrder ${JSON.stringify(order)} does not list exactly the columns ${JSON.stringify([...ids])}`);
    }
    for (const [cid, col] of Object.entries(columns)) {
      const what = `layer ${layerId} column ${cid} (${col.operationType})`;
      if (!(col.operationType in LENS_OPERATIONS)) {
        problems.push(`${where}: ${what}: unknown operationType`);
        continue;
      }
      const use = LENS_OPERATIONS[col.operationType];
      if (use === null) {
        if (col.sourceField !== '___records___') problems.push(`${where}: ${what}: count must use sourceField ___records___`);
      } else {
        field(dv, col.sourceField, use, what);
      }
      for (const f of col.params?.secondaryFields ?? []) field(dv, f, 'agg', `${what} secondary field`);
      if (col.params?.sortField) field(dv, col.params.sortField, 'date', `${what} sortField`);
      if (col.filter) queryFields(dv, col.filter, `${what} filter`);
      const orderAgg = col.params?.orderAgg;
      if (col.params?.orderBy?.type === 'custom') {
        if (!orderAgg || !(orderAgg.operationType in LENS_OPERATIONS)) problems.push(`${where}: ${what}: custom order without a known orderAgg`);
        else if (LENS_OPERATIONS[orderAgg.operationType] !== null) field(dv, orderAgg.sourceField, LENS_OPERATIONS[orderAgg.operationType], `${what} orderAgg`);
      }
      const orderBy = col.params?.orderBy;
      if (orderBy?.type === 'column' && !ids.has(orderBy.columnId)) problems.push(`${where}: ${what}: orderBy column ${orderBy.columnId} is not in the layer`);
      if (typeof col.isBucketed !== 'boolean' || typeof col.dataType !== 'string' || typeof col.label !== 'string') {
        problems.push(`${where}: ${what}: needs label, dataType and isBucketed`);
      }
    }
  }
  queryFields(firstDv, state.query, 'state');
  for (const f of filterFields(state.filters)) field(firstDv, f, 'search', 'state filter');

  // Every accessor the visualization draws must be a column of its layer.
  const vis = state.visualization ?? {};
  const visLayers = vis.layers ?? (vis.layerId ? [vis] : []);
  if (visLayers.length === 0) problems.push(`${where}: visualization has no layers`);
  for (const l of visLayers) {
    const ids = columnIds.get(l.layerId);
    if (!ids) {
      problems.push(`${where}: visualization layer ${l.layerId} has no datasource layer`);
      continue;
    }
    const accessors = [
      ...(l.accessors ?? []),
      l.xAccessor,
      l.splitAccessor,
      l.metricAccessor,
      l.breakdownByAccessor,
      ...(l.columns ?? []).map((c) => c.columnId),
      l.sorting?.columnId,
    ].filter((x) => x !== undefined);
    if (accessors.length === 0) problems.push(`${where}: visualization layer ${l.layerId} draws nothing`);
    for (const acc of accessors) if (!ids.has(acc)) problems.push(`${where}: visualization accessor ${acc} is not a column of layer ${l.layerId}`);
  }
}

function checkDashboard(a, where, ref, field, problems, searchSource) {
  for (const k of Object.keys(a)) if (!DASHBOARD_ATTRIBUTES.has(k)) problems.push(`${where}: attribute "${k}" is refused by Kibana's dashboard schema`);
  if (typeof a.title !== 'string' || a.title === '') problems.push(`${where}: no title`);
  parseJsonString(a.optionsJSON, `${where}: optionsJSON`, problems);
  if (searchSource && (searchSource.filter ?? []).length > 0) problems.push(`${where}: dashboard-level filters are not checked against a data view; use controls`);
  const panels = parseJsonString(a.panelsJSON, `${where}: panelsJSON`, problems);
  if (panels !== undefined && !Array.isArray(panels)) problems.push(`${where}: panelsJSON is not an array`);
  if (Array.isArray(panels)) {
    if (panels.length === 0) problems.push(`${where}: no panels`);
    const indexes = new Set();
    const cells = new Map();
    for (const p of panels) {
      const what = `panel ${p.panelIndex}`;
      if (!p.panelIndex || indexes.has(p.panelIndex)) problems.push(`${where}: ${what}: missing or duplicate panelIndex`);
      indexes.add(p.panelIndex);
      if (!p.panelRefName) {
        problems.push(`${where}: ${what}: no panelRefName (by-value panels are not used here)`);
      } else {
        const target = ref(`${p.panelIndex}:${p.panelRefName}`, p.type, what);
        if (target && target.type !== p.type) problems.push(`${where}: ${what}: type ${p.type} but refers to a ${target.type}`);
      }
      const g = p.gridData ?? {};
      if (![g.x, g.y, g.w, g.h].every(Number.isInteger) || g.x < 0 || g.y < 0 || g.w < 1 || g.h < 1 || g.x + g.w > 48) {
        problems.push(`${where}: ${what}: gridData ${JSON.stringify(g)} is outside the 48-column grid`);
        continue;
      }
      if (g.i !== p.panelIndex) problems.push(`${where}: ${what}: gridData.i is not the panelIndex`);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const other = cells.get(`${x},${y}`);
          if (other && other !== p.panelIndex) {
            problems.push(`${where}: ${what} overlaps panel ${other}`);
            x = Infinity;
            break;
          }
          cells.set(`${x},${y}`, p.panelIndex);
        }
      }
    }
  }
  const cg = a.controlGroupInput;
  if (cg) {
    parseJsonString(cg.ignoreParentSettingsJSON, `${where}: controlGroupInput.ignoreParentSettingsJSON`, problems, { optional: true });
    const controls = parseJsonString(cg.panelsJSON, `${where}: controlGroupInput.panelsJSON`, problems, { optional: true }) ?? {};
    for (const [cid, c] of Object.entries(controls)) {
      const what = `control ${cid}`;
      if (c.explicitInput?.id !== undefined && c.explicitInput.id !== cid) problems.push(`${where}: ${what}: explicitInput.id differs from its key`);
      const dv = ref(`controlGroup_${cid}:optionsListDataView`, 'index-pattern', what);
      if (dv && c.explicitInput?.dataViewId !== undefined && c.explicitInput.dataViewId !== dv.id) {
        problems.push(`${where}: ${what}: dataViewId ${c.explicitInput.dataViewId} differs from its reference ${dv.id}`);
      }
      // An options list is a terms aggregation on the field.
      field(dv, c.explicitInput?.fieldName, c.type === 'rangeSliderControl' ? 'numeric' : 'agg', what);
    }
  }
}

/** Read every *.ndjson of a directory: { fileName: text }. */
export function readNdjsonDir(dir) {
  const out = {};
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.ndjson')).sort()) out[name] = fs.readFileSync(path.join(dir, name), 'utf8');
  return out;
}
