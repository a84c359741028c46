// Source of the Kibana saved objects in helm/iot-telemetry/dashboards/*.ndjson. Hand-editing
// Lens state inside an NDJSON line is error-prone, so the objects are written here, readably, and
// `node saved-objects.mjs --write` regenerates the files; dashboards.test.mjs fails when the
// committed files differ from what this produces.
//
// Each file is imported by its own POST /api/saved_objects/_import, so each must be
// self-contained: every reference resolves inside the same file.
//
// Versions: coreMigrationVersion / typeMigrationVersion are the ones a Kibana 8.15 export
// writes for these types. Kibana refuses an object whose version is newer than it knows and
// migrates older ones forward, so these import into 8.15 and every later 8.x/9.x release.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CORE_MIGRATION_VERSION = '8.8.0';
export const TYPE_MIGRATION_VERSION = {
  'index-pattern': '8.0.0',
  search: '8.0.0',
  lens: '8.9.0',
  dashboard: '10.2.0',
};

export const DATA_VIEW = {
  events: 'iot-events-data-view',
  dlq: 'iot-events-dlq-data-view',
  collector: 'iot-events-collector-data-view',
};

const KUERY_ALL = { language: 'kuery', query: '' };

function savedObject(type, id, attributes, references = []) {
  return {
    attributes,
    coreMigrationVersion: CORE_MIGRATION_VERSION,
    id,
    managed: false,
    references,
    type,
    typeMigrationVersion: TYPE_MIGRATION_VERSION[type],
  };
}

// ---- data views ----------------------------------------------------------------------------

function dataView(id, stream, { fieldFormats = {} } = {}) {
  // The title is the data stream's exact name: `iot-events*` would also match iot-events-dlq
  // and iot-events-collector. allowNoIndex: the dashboards are imported at install time, before
  // the first event creates the data stream.
  return savedObject('index-pattern', id, {
    allowHidden: false,
    allowNoIndex: true,
    fieldAttrs: '{}',
    fieldFormatMap: JSON.stringify(fieldFormats),
    fields: '[]',
    name: stream,
    runtimeFieldMap: '{}',
    sourceFilters: '[]',
    timeFieldName: '@timestamp',
    title: stream,
    typeMeta: '{}',
  });
}

// ---- Lens ------------------------------------------------------------------------------------

const dateHistogram = () => ({
  dataType: 'date',
  isBucketed: true,
  label: '@timestamp',
  operationType: 'date_histogram',
  params: { dropPartials: false, includeEmptyRows: true, interval: 'auto' },
  scale: 'interval',
  sourceField: '@timestamp',
});

// timeScale 's' divides each bucket's value by the bucket's length in seconds: a count becomes
// events per second, and a sum of the self-metrics' per-interval counts becomes a rate.
const count = (label, { timeScale } = {}) => ({
  customLabel: true,
  dataType: 'number',
  isBucketed: false,
  label,
  operationType: 'count',
  params: { emptyAsNull: true },
  scale: 'ratio',
  sourceField: '___records___',
  ...(timeScale ? { timeScale } : {}),
});

const metric = (operationType, field, label, { timeScale, dataType = 'number' } = {}) => ({
  customLabel: true,
  dataType,
  isBucketed: false,
  label,
  operationType,
  params: { emptyAsNull: true },
  scale: 'ratio',
  sourceField: field,
  ...(timeScale ? { timeScale } : {}),
});

const lastValue = (field, label, dataType) => ({
  customLabel: true,
  dataType,
  filter: { language: 'kuery', query: `${field}: *` },
  isBucketed: false,
  label,
  operationType: 'last_value',
  params: { showArrayValues: false, sortField: '@timestamp' },
  scale: dataType === 'string' ? 'ordinal' : 'ratio',
  sourceField: field,
});

const terms = (field, label, orderColumn, { size = 10, secondaryFields, otherBucket = true, dataType = 'string' } = {}) => ({
  customLabel: true,
  dataType,
  isBucketed: true,
  label,
  operationType: 'terms',
  params: {
    exclude: [],
    excludeIsRegex: false,
    include: [],
    includeIsRegex: false,
    missingBucket: false,
    // 'count': rank by number of documents (Lens "Rank by: Custom" with a count), for charts
    // whose own metric (an average value) says nothing about which series matter.
    ...(orderColumn === 'count'
      ? { orderAgg: { dataType: 'number', isBucketed: false, label: 'Count of records', operationType: 'count', params: { emptyAsNull: true }, scale: 'ratio', sourceField: '___records___' }, orderBy: { type: 'custom' } }
      : { orderBy: { columnId: orderColumn, type: 'column' } }),
    orderDirection: 'desc',
    otherBucket,
    parentFormat: secondaryFields ? { id: 'multi_terms' } : { id: 'terms' },
    size,
    ...(secondaryFields ? { secondaryFields } : {}),
  },
  scale: 'ordinal',
  sourceField: field,
});

function lens(id, { title, description, dataView: dataViewId, visualizationType, columns, columnOrder, visualization }) {
  const layerId = 'layer1';
  return savedObject(
    'lens',
    id,
    {
      description,
      state: {
        adHocDataViews: {},
        datasourceStates: {
          formBased: {
            layers: {
              [layerId]: { columnOrder, columns, incompleteColumns: {}, sampling: 1 },
            },
          },
        },
        filters: [],
        internalReferences: [],
        query: KUERY_ALL,
        visualization: visualization(layerId),
      },
      title,
      visualizationType,
    },
    [{ id: dataViewId, name: `indexpattern-datasource-layer-${layerId}`, type: 'index-pattern' }],
  );
}

/** A time chart: x = @timestamp, one series per metric column, optionally split by a terms column. */
function timeChart(id, { title, description, dataView: dv, metrics, split, seriesType = 'line', yTitle }) {
  const columns = { x: dateHistogram() };
  const accessors = [];
  metrics.forEach((m, i) => {
    columns[`y${i}`] = m;
    accessors.push(`y${i}`);
  });
  const columnOrder = [];
  if (split) {
    columns.split = split(accessors[0]);
    columnOrder.push('split');
  }
  columnOrder.push('x', ...accessors);
  return lens(id, {
    title,
    description,
    dataView: dv,
    visualizationType: 'lnsXY',
    columns,
    columnOrder,
    visualization: (layerId) => ({
      axisTitlesVisibilitySettings: { x: false, yLeft: true, yRight: true },
      fittingFunction: seriesType === 'line' ? 'Linear' : 'None',
      layers: [
        {
          accessors,
          layerId,
          layerType: 'data',
          position: 'top',
          seriesType,
          showGridlines: false,
          xAccessor: 'x',
          ...(split ? { splitAccessor: 'split' } : {}),
        },
      ],
      legend: { isVisible: true, position: 'right' },
      preferredSeriesType: seriesType,
      valueLabels: 'hide',
      ...(yTitle ? { yTitle } : {}),
    }),
  });
}

/** A table: bucket columns first, then metric columns; sorted by `sortColumn` descending. */
function table(id, { title, description, dataView: dv, columns, columnOrder, sortColumn }) {
  return lens(id, {
    title,
    description,
    dataView: dv,
    visualizationType: 'lnsDatatable',
    columns,
    columnOrder,
    visualization: (layerId) => ({
      columns: columnOrder.map((columnId) => ({ columnId, isTransposed: false })),
      layerId,
      layerType: 'data',
      ...(sortColumn ? { sorting: { columnId: sortColumn, direction: 'desc' } } : {}),
    }),
  });
}

// ---- saved searches (Discover sessions) --------------------------------------------------------

function savedSearch(id, { title, description, dataView: dv, columns, query = '' }) {
  return savedObject(
    'search',
    id,
    {
      columns,
      description,
      grid: {},
      hideChart: false,
      isTextBasedQuery: false,
      kibanaSavedObjectMeta: {
        searchSourceJSON: JSON.stringify({
          filter: [],
          indexRefName: 'kibanaSavedObjectMeta.searchSourceJSON.index',
          query: { language: 'kuery', query },
        }),
      },
      sort: [['@timestamp', 'desc']],
      timeRestore: false,
      title,
    },
    [{ id: dv, name: 'kibanaSavedObjectMeta.searchSourceJSON.index', type: 'index-pattern' }],
  );
}

// ---- dashboards ------------------------------------------------------------------------------

/**
 * panels: [{ object, x, y, w, h }] laid out on Kibana's 48-column grid.
 * controls: [{ id, field, title, dataView }] options-list controls above the panels.
 */
function dashboard(id, { title, description, panels, controls = [] }) {
  const references = [];
  const panelsJSON = panels.map(({ object, x, y, w, h }) => {
    const panelIndex = object.id;
    references.push({ id: object.id, name: `${panelIndex}:panel_${panelIndex}`, type: object.type });
    return {
      embeddableConfig: { enhancements: {} },
      gridData: { h, i: panelIndex, w, x, y },
      panelIndex,
      panelRefName: `panel_${panelIndex}`,
      type: object.type,
    };
  });
  const controlPanels = {};
  controls.forEach((c, order) => {
    controlPanels[c.id] = {
      explicitInput: {
        dataViewId: c.dataView,
        enhancements: {},
        exclude: false,
        existsSelected: false,
        fieldName: c.field,
        id: c.id,
        searchTechnique: 'prefix',
        selectedOptions: [],
        sort: { by: '_count', direction: 'desc' },
        title: c.title,
      },
      grow: true,
      order,
      type: 'optionsListControl',
      width: 'medium',
    };
    references.push({ id: c.dataView, name: `controlGroup_${c.id}:optionsListDataView`, type: 'index-pattern' });
  });
  return savedObject(
    'dashboard',
    id,
    {
      controlGroupInput: {
        chainingSystem: 'HIERARCHICAL',
        controlStyle: 'oneLine',
        ignoreParentSettingsJSON: JSON.stringify({
          ignoreFilters: false,
          ignoreQuery: false,
          ignoreTimerange: false,
          ignoreValidations: false,
        }),
        panelsJSON: JSON.stringify(controlPanels),
        showApplySelections: false,
      },
      description,
      kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ filter: [], query: KUERY_ALL }) },
      optionsJSON: JSON.stringify({
        hidePanelTitles: false,
        syncColors: true,
        syncCursor: true,
        syncTooltips: true,
        useMargins: true,
      }),
      panelsJSON: JSON.stringify(panelsJSON),
      refreshInterval: { pause: false, value: 30_000 },
      timeFrom: 'now-1h',
      timeRestore: true,
      timeTo: 'now',
      title,
    },
    references,
  );
}

// ---- the "IoT events" file ---------------------------------------------------------------------

function eventsObjects() {
  const events = dataView(DATA_VIEW.events, 'iot-events');
  const dlq = dataView(DATA_VIEW.dlq, 'iot-events-dlq');
  // The rejected-events panel reads the collectors' self-metrics; its data view is repeated here
  // (same id, identical content) so this file imports on its own.
  const collector = collectorDataView();

  const byType = timeChart('iot-events-per-second-by-type', {
    title: 'Events per second by type',
    description: 'Stored events per second, split by payload.type.',
    dataView: DATA_VIEW.events,
    seriesType: 'bar_stacked',
    metrics: [count('Events per second', { timeScale: 's' })],
    split: (order) => terms('payload.type', 'Type', order),
    yTitle: 'events/s',
  });
  const byOrigin = timeChart('iot-events-per-second-by-origin', {
    title: 'Events per second by origin',
    description: 'Stored events per second, split by origin.',
    dataView: DATA_VIEW.events,
    seriesType: 'bar_stacked',
    metrics: [count('Events per second', { timeScale: 's' })],
    split: (order) => terms('origin', 'Origin', order),
    yTitle: 'events/s',
  });
  // Averaging values of different types (temperature and humidity, say) means nothing, so each
  // series is one sender and one type; the Type control narrows the chart to one type.
  const values = timeChart('iot-events-values-by-sender', {
    title: 'Values over time by sender and type',
    description: 'Average of value_number per sender and payload.type. Pick a type with the Type control.',
    dataView: DATA_VIEW.events,
    seriesType: 'line',
    metrics: [metric('average', 'value_number', 'Value (average)')],
    split: () => terms('sender', 'Sender › type', 'count', { size: 10, secondaryFields: ['payload.type'], otherBucket: false }),
    yTitle: 'value',
  });
  const topSenders = table('iot-events-top-senders', {
    title: 'Top senders',
    description: 'The senders with the most events in the time range, and when each was last heard from.',
    dataView: DATA_VIEW.events,
    columns: {
      sender: terms('sender', 'Sender', 'events', { size: 20, otherBucket: false }),
      events: count('Events'),
      lastSeen: metric('max', '@timestamp', 'Last seen', { dataType: 'date' }),
    },
    columnOrder: ['sender', 'events', 'lastSeen'],
    sortColumn: 'events',
  });
  const rejected = timeChart('iot-events-rejected-per-second', {
    title: 'Rejected events per second',
    description:
      'Events the collectors refused (schema violations, 4.xx answers) and events Elasticsearch refused for their content (dead-lettered), from the collectors\' self-metrics.',
    dataView: DATA_VIEW.collector,
    seriesType: 'bar_stacked',
    metrics: [
      metric('sum', 'events.rejected', 'Rejected by the collector', { timeScale: 's' }),
      metric('sum', 'elasticsearch.documents.dead_lettered', 'Dead-lettered', { timeScale: 's' }),
    ],
    yTitle: 'events/s',
  });
  // error.reason is text (searchable); its keyword sub-field is what a chart can group by.
  const deadLetters = timeChart('iot-events-dead-letters-by-reason', {
    title: 'Dead letters by reason',
    description: 'Documents written to iot-events-dlq, split by the reason Elasticsearch refused them with.',
    dataView: DATA_VIEW.dlq,
    seriesType: 'bar_stacked',
    metrics: [count('Dead letters')],
    split: (order) => terms('error.reason.keyword', 'Reason', order),
    yTitle: 'dead letters',
  });
  const latest = savedSearch('iot-events-latest', {
    title: 'Latest events',
    description: 'The most recent stored events.',
    dataView: DATA_VIEW.events,
    columns: ['sender', 'origin', 'payload.type', 'value_number', 'value_text', 'namespace', 'collector'],
  });
  const latestDead = savedSearch('iot-events-dead-letters', {
    title: 'Latest dead letters',
    description: 'Events Elasticsearch refused, with its reason; the original event is in the field event.',
    dataView: DATA_VIEW.dlq,
    columns: ['sender', 'error.status', 'error.reason', 'collector', 'event'],
  });

  const board = dashboard('iot-events-dashboard', {
    title: 'IoT events',
    description: 'Events stored by the IoT collectors: rates by type and origin, values by sender, top senders, rejections.',
    controls: [
      { id: 'iot-events-control-type', field: 'payload.type', title: 'Type', dataView: DATA_VIEW.events },
      { id: 'iot-events-control-sender', field: 'sender', title: 'Sender', dataView: DATA_VIEW.events },
    ],
    panels: [
      { object: byType, x: 0, y: 0, w: 24, h: 13 },
      { object: byOrigin, x: 24, y: 0, w: 24, h: 13 },
      { object: values, x: 0, y: 13, w: 32, h: 15 },
      { object: topSenders, x: 32, y: 13, w: 16, h: 15 },
      { object: rejected, x: 0, y: 28, w: 24, h: 12 },
      { object: deadLetters, x: 24, y: 28, w: 24, h: 12 },
      { object: latest, x: 0, y: 40, w: 48, h: 15 },
      { object: latestDead, x: 0, y: 55, w: 48, h: 12 },
    ],
  });
  return [events, dlq, collector, byType, byOrigin, values, topSenders, rejected, deadLetters, latest, latestDead, board];
}

// ---- the "IoT collectors" file -------------------------------------------------------------------

function collectorDataView() {
  return dataView(DATA_VIEW.collector, 'iot-events-collector', {
    fieldFormats: {
      'elasticsearch.buffered_bytes': { id: 'bytes' },
      uptime_s: { id: 'duration', params: { inputFormat: 'seconds', outputFormat: 'humanize', outputPrecision: 0 } },
      'elasticsearch.bulk_latency_ms': { id: 'number', params: { pattern: '0,0.0' } },
      'acknowledgement.latency_ms': { id: 'number', params: { pattern: '0,0.0' } },
    },
  });
}

function collectorObjects() {
  const dv = DATA_VIEW.collector;
  const byCollector = (order) => terms('collector', 'Collector', order, { size: 20, otherBucket: false });
  // Each document's counts cover its own interval, so a sum over a time bucket is that bucket's
  // total and timeScale 's' turns it into a per-second rate, whatever the reporting interval.
  const rate = (field, label) => metric('sum', field, label, { timeScale: 's' });
  const chart = (id, title, description, metrics, opts = {}) =>
    timeChart(id, { title, description, dataView: dv, metrics, split: byCollector, ...opts });

  const requests = chart('iot-collectors-requests', 'CoAP requests per second', 'Requests received, per collector.', [
    rate('coap.requests', 'Requests/s'),
  ], { yTitle: 'requests/s' });
  const responses = chart(
    'iot-collectors-responses',
    'CoAP responses per second by class',
    'Answers sent, by class (2.xx success, 4.xx client error, 5.xx server error), per collector.',
    [
      rate('coap.responses.success', '2.xx'),
      rate('coap.responses.client_error', '4.xx'),
      rate('coap.responses.server_error', '5.xx'),
    ],
    { yTitle: 'responses/s' },
  );
  const events = chart(
    'iot-collectors-events',
    'Events accepted and rejected per second',
    'Events that passed validation and events refused, per collector.',
    [rate('events.accepted', 'Accepted'), rate('events.rejected', 'Rejected')],
    { yTitle: 'events/s' },
  );
  const bulk = chart(
    'iot-collectors-bulk-requests',
    'Elasticsearch bulk requests per second',
    'Bulk requests sent and bulk requests that failed as a whole (retried), per collector.',
    [rate('elasticsearch.bulk_requests', 'Bulk requests'), rate('elasticsearch.bulk_failures', 'Failed bulk requests')],
    { yTitle: 'requests/s' },
  );
  const documents = chart(
    'iot-collectors-documents',
    'Elasticsearch documents per second by outcome',
    'Created; duplicate (409: already stored); retried (429/5xx); dead-lettered (refused for content); too large (413), per collector.',
    [
      rate('elasticsearch.documents.created', 'Created'),
      rate('elasticsearch.documents.duplicate', 'Duplicate'),
      rate('elasticsearch.documents.retried', 'Retried'),
      rate('elasticsearch.documents.dead_lettered', 'Dead-lettered'),
      rate('elasticsearch.documents.too_large', 'Too large'),
    ],
    { yTitle: 'documents/s' },
  );
  // The documents hold each interval's mean latency; averaging them weighs every interval alike,
  // which is close enough for a trend.
  const latency = chart(
    'iot-collectors-latency',
    'Bulk and acknowledgement latency (ms)',
    'Mean Elasticsearch bulk request duration and mean time from request to 2.01, per collector.',
    [
      metric('average', 'elasticsearch.bulk_latency_ms', 'Bulk latency (ms)'),
      metric('average', 'acknowledgement.latency_ms', 'Acknowledgement latency (ms)'),
    ],
    { yTitle: 'ms' },
  );
  const buffered = chart(
    'iot-collectors-buffered-bytes',
    'Buffered bytes',
    'Bytes queued for Elasticsearch (a gauge: the maximum in each bucket), per collector.',
    [metric('max', 'elasticsearch.buffered_bytes', 'Buffered bytes')],
    { yTitle: 'bytes' },
  );
  const status = table('iot-collectors-status', {
    title: 'Collectors',
    description: 'Each collector as of its latest self-metrics document: readiness, Elasticsearch reachability, uptime, version.',
    dataView: dv,
    columns: {
      collector: terms('collector', 'Collector', 'lastSeen', { size: 50, otherBucket: false }),
      lastSeen: metric('max', '@timestamp', 'Last report', { dataType: 'date' }),
      ready: lastValue('ready', 'Ready', 'boolean'),
      esUp: lastValue('elasticsearch_up', 'Elasticsearch up', 'boolean'),
      uptime: lastValue('uptime_s', 'Uptime', 'number'),
      workers: lastValue('workers', 'Workers', 'number'),
      version: lastValue('version', 'Version', 'string'),
    },
    columnOrder: ['collector', 'lastSeen', 'ready', 'esUp', 'uptime', 'workers', 'version'],
    sortColumn: 'lastSeen',
  });

  const board = dashboard('iot-collectors-dashboard', {
    title: 'IoT collectors',
    description: "The collectors' own metrics (data stream iot-events-collector), per collector.",
    controls: [{ id: 'iot-collectors-control-collector', field: 'collector', title: 'Collector', dataView: dv }],
    panels: [
      { object: status, x: 0, y: 0, w: 48, h: 10 },
      { object: requests, x: 0, y: 10, w: 24, h: 12 },
      { object: responses, x: 24, y: 10, w: 24, h: 12 },
      { object: events, x: 0, y: 22, w: 24, h: 12 },
      { object: bulk, x: 24, y: 22, w: 24, h: 12 },
      { object: documents, x: 0, y: 34, w: 24, h: 12 },
      { object: latency, x: 24, y: 34, w: 24, h: 12 },
      { object: buffered, x: 0, y: 46, w: 24, h: 12 },
    ],
  });
  return [collectorDataView(), status, requests, responses, events, bulk, documents, latency, buffered, board];
}

/** Export summary line, as Kibana appends to an export. */
function summary(objects) {
  return { excludedObjects: [], excludedObjectsCount: 0, exportedCount: objects.length, missingRefCount: 0, missingReferences: [] };
}

/** { fileName: ndjsonText } */
export function buildFiles() {
  const files = { 'iot-events.ndjson': eventsObjects(), 'iot-collectors.ndjson': collectorObjects() };
  return Object.fromEntries(
    Object.entries(files).map(([name, objects]) => [name, [...objects, summary(objects)].map((o) => JSON.stringify(o)).join('\n') + '\n']),
  );
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const DASHBOARDS_DIR = path.resolve(here, '../../../helm/iot-telemetry/dashboards');

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv[2] !== '--write') {
    console.error('usage: node saved-objects.mjs --write   (regenerates helm/iot-telemetry/dashboards/*.ndjson)');
    process.exit(2);
  }
  for (const [name, text] of Object.entries(buildFiles())) {
    fs.writeFileSync(path.join(DASHBOARDS_DIR, name), text);
    console.log(`wrote ${path.join(DASHBOARDS_DIR, name)}`);
  }
}
