// The Kibana saved objects in helm/iot-telemetry/dashboards/ against the index templates the real
// collector installs (read back from the Elasticsearch test server), plus proof that the checker
// catches each kind of mistake in a mutated copy.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEs, startEsCollector, cleanupElastic } from '../../integration/lib/elastic.mjs';
import { checkFiles, mappingResolver, readNdjsonDir, kqlFields } from './checker.mjs';
import { buildFiles, DASHBOARDS_DIR, DATA_VIEW } from './saved-objects.mjs';

let resolve;
let files;
const tmpDirs = [];

before(async () => {
  const es = await startEs();
  // The self-metrics template is installed with the others; the interval only makes sure of it
  // should that ever depend on the feature being on.
  await startEsCollector(es, { args: ['--self-metrics-interval', '3600'] });
  const res = await fetch(`${es.url}/_index_template`);
  assert.equal(res.status, 200, 'GET /_index_template');
  const templates = await res.json();
  const names = templates.index_templates.map((t) => t.name).sort();
  for (const stream of ['iot-events', 'iot-events-dlq', 'iot-events-collector']) {
    assert.ok(templates.index_templates.some((t) => [t.index_template.index_patterns].flat().includes(stream)), `a template for ${stream} (have ${names})`);
  }
  resolve = mappingResolver(templates);
  await cleanupElastic();
  files = readNdjsonDir(DASHBOARDS_DIR);
});

after(async () => {
  await cleanupElastic();
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

const objectsOf = (text) =>
  text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((o) => !('exportedCount' in o));

describe('the committed saved objects', () => {
  test('are what saved-objects.mjs generates (run `node saved-objects.mjs --write` after editing it)', () => {
    const generated = buildFiles();
    assert.deepEqual(Object.keys(files).sort(), Object.keys(generated).sort(), 'the *.ndjson files in the dashboards folder');
    for (const [name, text] of Object.entries(generated)) assert.equal(files[name], text, `${name} is stale`);
  });

  test('pass every structural check against the collector\'s index templates', () => {
    assert.deepEqual(checkFiles(files, resolve), []);
  });

  test('the dashboards folder holds only what the chart ships', () => {
    const unexpected = fs.readdirSync(DASHBOARDS_DIR).filter((n) => !/\.ndjson$/.test(n) && n !== 'import.sh' && n !== 'README.md');
    assert.deepEqual(unexpected, []);
  });

  test('data views name exactly one data stream each, with @timestamp as time field', () => {
    const views = Object.values(files)
      .flatMap(objectsOf)
      .filter((o) => o.type === 'index-pattern');
    const byId = new Map(views.map((v) => [v.id, v.attributes]));
    assert.deepEqual(
      [...byId].map(([id, a]) => [id, a.title, a.timeFieldName]).sort(),
      [
        [DATA_VIEW.collector, 'iot-events-collector', '@timestamp'],
        [DATA_VIEW.dlq, 'iot-events-dlq', '@timestamp'],
        [DATA_VIEW.events, 'iot-events', '@timestamp'],
      ].sort(),
    );
  });

  test('the two dashboards exist, and each panel and control refers to an object in its file', () => {
    const titles = [];
    for (const [name, text] of Object.entries(files)) {
      const objects = objectsOf(text);
      const ids = new Set(objects.map((o) => `${o.type}/${o.id}`));
      for (const d of objects.filter((o) => o.type === 'dashboard')) {
        titles.push(d.attributes.title);
        const panels = JSON.parse(d.attributes.panelsJSON);
        assert.ok(panels.length >= 7, `${name}: ${d.attributes.title} has ${panels.length} panels`);
        for (const p of panels) {
          const r = d.references.find((x) => x.name === `${p.panelIndex}:${p.panelRefName}`);
          assert.ok(r && ids.has(`${r.type}/${r.id}`), `${name}: panel ${p.panelIndex}`);
        }
        const controls = JSON.parse(d.attributes.controlGroupInput.panelsJSON);
        assert.ok(Object.keys(controls).length >= 1, `${d.attributes.title} has a control`);
      }
    }
    assert.deepEqual(titles.sort(), ['IoT collectors', 'IoT events']);
  });

  test('the events dashboard charts type, origin, values per sender, top senders, rejections and latest events', () => {
    const objects = objectsOf(files['iot-events.ndjson']);
    const lensFields = (id) => {
      const o = objects.find((x) => x.id === id);
      assert.ok(o, id);
      return Object.values(o.attributes.state.datasourceStates.formBased.layers).flatMap((l) =>
        Object.values(l.columns).flatMap((c) => [c.operationType, c.sourceField, ...(c.params?.secondaryFields ?? [])]),
      );
    };
    assert.deepEqual(lensFields('iot-events-per-second-by-type').sort(), ['@timestamp', '___records___', 'count', 'date_histogram', 'payload.type', 'terms'].sort());
    assert.ok(lensFields('iot-events-per-second-by-origin').includes('origin'));
    assert.ok(['average', 'value_number', 'sender', 'payload.type'].every((f) => lensFields('iot-events-values-by-sender').includes(f)));
    assert.ok(['sender', 'max', '@timestamp'].every((f) => lensFields('iot-events-top-senders').includes(f)));
    assert.ok(lensFields('iot-events-rejected-per-second').includes('events.rejected'));
    assert.ok(lensFields('iot-events-dead-letters-by-reason').includes('error.reason.keyword'));
    assert.equal(objects.find((o) => o.id === 'iot-events-latest').type, 'search');
    const board = objects.find((o) => o.type === 'dashboard');
    const controls = Object.values(JSON.parse(board.attributes.controlGroupInput.panelsJSON));
    assert.ok(controls.some((c) => c.explicitInput.fieldName === 'payload.type'), 'a payload.type control');
  });

  test('the collectors dashboard covers every self-metrics field, split by collector', () => {
    const objects = objectsOf(files['iot-collectors.ndjson']);
    const used = new Set();
    for (const o of objects.filter((x) => x.type === 'lens')) {
      for (const l of Object.values(o.attributes.state.datasourceStates.formBased.layers)) {
        const cols = Object.values(l.columns);
        assert.ok(cols.some((c) => c.operationType === 'terms' && c.sourceField === 'collector'), `${o.id} is split by collector`);
        for (const c of cols) used.add(c.sourceField);
      }
    }
    const wanted = [
      'coap.requests', 'coap.responses.success', 'coap.responses.client_error', 'coap.responses.server_error',
      'events.accepted', 'events.rejected', 'elasticsearch.bulk_requests', 'elasticsearch.bulk_failures',
      'elasticsearch.documents.created', 'elasticsearch.documents.duplicate', 'elasticsearch.documents.retried',
      'elasticsearch.documents.dead_lettered', 'elasticsearch.bulk_latency_ms', 'acknowledgement.latency_ms',
      'elasticsearch.buffered_bytes', 'ready', 'elasticsearch_up', 'uptime_s', 'version',
    ];
    assert.deepEqual(wanted.filter((f) => !used.has(f)), []);
  });
});

// ---- the checker catches mistakes ----------------------------------------------------------------

/** Write `files` with `mutate(objectsByFile)` applied into a temp dir; return the checker's problems. */
function checkMutated(mutate) {
  const copy = {};
  for (const [name, text] of Object.entries(files)) copy[name] = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  mutate(copy);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-dashboards-'));
  tmpDirs.push(dir);
  for (const [name, objects] of Object.entries(copy)) {
    fs.writeFileSync(path.join(dir, name), objects.map((o) => (typeof o === 'string' ? o : JSON.stringify(o))).join('\n') + '\n');
  }
  return checkFiles(readNdjsonDir(dir), resolve);
}

const find = (copy, id) => {
  for (const objects of Object.values(copy)) {
    const o = objects.find((x) => x.id === id);
    if (o) return o;
  }
  throw new Error(`no object ${id}`);
};
const layerOf = (o) => Object.values(o.attributes.state.datasourceStates.formBased.layers)[0];

function assertCaught(problems, pattern) {
  assert.ok(problems.length > 0, 'the checker found nothing');
  assert.ok(problems.some((p) => pattern.test(p)), `no problem matches ${pattern}:\n${problems.join('\n')}`);
}

describe('the checker fails a copy with', () => {
  test('a misspelled field in a Lens column', () => {
    assertCaught(checkMutated((c) => (layerOf(find(c, 'iot-events-values-by-sender')).columns.y0.sourceField = 'value_numbr')), /field "value_numbr" is not in the mapping of iot-events/);
  });
  test('a payload.* field that only the dynamic template would map, unless declared', () => {
    const mutate = (c) => (layerOf(find(c, 'iot-events-values-by-sender')).columns.split.params.secondaryFields = ['payload.unit']);
    assertCaught(checkMutated(mutate), /"payload.unit" is not in the mapping/);
    const copy = {};
    for (const [name, text] of Object.entries(files)) copy[name] = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    mutate(copy);
    const texts = Object.fromEntries(Object.entries(copy).map(([n, objs]) => [n, objs.map((o) => JSON.stringify(o)).join('\n') + '\n']));
    assert.deepEqual(checkFiles(texts, resolve, { dynamicFields: ['payload.unit'] }), [], 'declared: mapped as keyword by payload_strings');
  });
  test('a misspelled secondary terms field', () => {
    assertCaught(checkMutated((c) => (layerOf(find(c, 'iot-events-values-by-sender')).columns.split.params.secondaryFields = ['payload.typ'])), /"payload.typ" is not in the mapping/);
  });
  test('a field of another data stream (collector metric on the events data view)', () => {
    assertCaught(checkMutated((c) => (layerOf(find(c, 'iot-events-per-second-by-origin')).columns.split.sourceField = 'events.rejected')), /"events.rejected" is not in the mapping of iot-events /);
  });
  test('a misspelled saved-search column and sort field', () => {
    const problems = checkMutated((c) => {
      const s = find(c, 'iot-events-latest');
      s.attributes.columns.push('orgin');
      s.attributes.sort = [['@timestmp', 'desc']];
    });
    assertCaught(problems, /column: field "orgin"/);
    assertCaught(problems, /sort: field "@timestmp"/);
  });
  test('a misspelled control field', () => {
    assertCaught(
      checkMutated((c) => {
        const d = find(c, 'iot-events-dashboard');
        d.attributes.controlGroupInput.panelsJSON = d.attributes.controlGroupInput.panelsJSON.replace('"payload.type"', '"payload.kind"');
      }),
      /control iot-events-control-type: field "payload.kind"/,
    );
  });
  test('a misspelled field in a KQL filter of a Lens column', () => {
    assertCaught(checkMutated((c) => (layerOf(find(c, 'iot-collectors-status')).columns.version.filter.query = 'verison: *')), /filter query: field "verison"/);
  });
  test('misspelled fields in filters and queries, and a time field that is not a date', () => {
    const problems = checkMutated((c) => {
      const s = find(c, 'iot-events-latest');
      const source = JSON.parse(s.attributes.kibanaSavedObjectMeta.searchSourceJSON);
      source.filter = [{ meta: { key: 'sendr', type: 'phrase', params: { query: 'dev-1' } }, query: { match_phrase: { sendr: 'dev-1' } } }];
      source.query = { language: 'kuery', query: 'collectr : "pod-1"' };
      s.attributes.kibanaSavedObjectMeta.searchSourceJSON = JSON.stringify(source);
      find(c, 'iot-collectors-requests').attributes.state.filters = [{ meta: { key: 'ready_state' }, query: { match_phrase: { ready_state: true } } }];
      find(c, DATA_VIEW.dlq).attributes.timeFieldName = 'error.status';
    });
    assertCaught(problems, /iot-events-latest: filter: field "sendr"/);
    assertCaught(problems, /iot-events-latest: searchSourceJSON query: field "collectr"/);
    assertCaught(problems, /iot-collectors-requests: state filter: field "ready_state"/);
    assertCaught(problems, /timeFieldName: field "error.status" \(integer\) in iot-events-dlq is not a date/);
  });
  test('a terms split on a text field (error.reason is not aggregatable)', () => {
    assertCaught(checkMutated((c) => (layerOf(find(c, 'iot-events-dead-letters-by-reason')).columns.split.sourceField = 'error.reason')), /"error.reason" \(text\).*not aggregatable/);
  });
  test('an average of a keyword field', () => {
    assertCaught(checkMutated((c) => (layerOf(find(c, 'iot-events-values-by-sender')).columns.y0.sourceField = 'value_text')), /"value_text" \(keyword\).*not numeric/);
  });
  test('a field under the unindexed payload.value', () => {
    assertCaught(checkMutated((c) => (layerOf(find(c, 'iot-events-values-by-sender')).columns.y0.sourceField = 'payload.value.celsius')), /"payload.value.celsius" \(not indexed\)/);
  });
  test('a dangling reference', () => {
    assertCaught(
      checkMutated((c) => (find(c, 'iot-events-dashboard').references.find((r) => r.type === 'lens').id = 'no-such-lens')),
      /lens\/no-such-lens does not resolve inside the file/,
    );
  });
  test('a data view reference to an object that lives only in the other file', () => {
    assertCaught(
      checkMutated((c) => {
        c['iot-events.ndjson'] = c['iot-events.ndjson'].filter((o) => o.id !== DATA_VIEW.collector);
        c['iot-events.ndjson'].at(-1).exportedCount -= 1;
      }),
      /iot-events-collector-data-view does not resolve inside the file/,
    );
  });
  test('a panel whose reference is missing from references[]', () => {
    assertCaught(
      checkMutated((c) => {
        const d = find(c, 'iot-collectors-dashboard');
        d.references = d.references.filter((r) => r.id !== 'iot-collectors-latency');
      }),
      /panel iot-collectors-latency names reference "iot-collectors-latency:panel_iot-collectors-latency", which is not in references/,
    );
  });
  test('a broken panelsJSON', () => {
    assertCaught(checkMutated((c) => (find(c, 'iot-events-dashboard').attributes.panelsJSON = find(c, 'iot-events-dashboard').attributes.panelsJSON.slice(0, -2))), /panelsJSON: does not parse/);
  });
  test('a broken searchSourceJSON', () => {
    assertCaught(
      checkMutated((c) => (find(c, 'iot-events-latest').attributes.kibanaSavedObjectMeta.searchSourceJSON = '{"query":')),
      /searchSourceJSON: does not parse/,
    );
  });
  test('a broken optionsJSON and a broken fieldFormatMap', () => {
    const problems = checkMutated((c) => {
      find(c, 'iot-collectors-dashboard').attributes.optionsJSON = '{useMargins:true}';
      find(c, DATA_VIEW.collector).attributes.fieldFormatMap = '{';
    });
    assertCaught(problems, /optionsJSON: does not parse/);
    assertCaught(problems, /fieldFormatMap: does not parse/);
  });
  test('a line that is not JSON', () => {
    assertCaught(checkMutated((c) => c['iot-collectors.ndjson'].splice(2, 0, '{"type":"lens",')), /iot-collectors.ndjson:3: not JSON/);
  });
  test('a duplicate id', () => {
    assertCaught(
      checkMutated((c) => {
        const objs = c['iot-collectors.ndjson'];
        objs.splice(1, 0, structuredClone(objs.find((o) => o.id === 'iot-collectors-requests')));
        objs.at(-1).exportedCount += 1;
      }),
      /lens\/iot-collectors-requests: duplicate id/,
    );
  });
  test('a wildcard data view title', () => {
    const problems = checkMutated((c) => {
      for (const objs of Object.values(c)) for (const o of objs) if (o.id === DATA_VIEW.events) o.attributes.title = 'iot-events*';
    });
    assertCaught(problems, /title "iot-events\*" is a pattern/);
  });
  test('a Lens accessor that is not a column', () => {
    assertCaught(
      checkMutated((c) => (find(c, 'iot-collectors-requests').attributes.state.visualization.layers[0].accessors.push('y9'))),
      /accessor y9 is not a column/,
    );
  });
  test('a missing typeMigrationVersion and an attribute the dashboard schema refuses', () => {
    const problems = checkMutated((c) => {
      delete find(c, 'iot-events-top-senders').typeMigrationVersion;
      find(c, 'iot-events-dashboard').attributes.panels = [];
    });
    assertCaught(problems, /iot-events-top-senders: typeMigrationVersion missing/);
    assertCaught(problems, /attribute "panels" is refused/);
  });
  test('overlapping panels and a wrong export count', () => {
    const problems = checkMutated((c) => {
      const d = find(c, 'iot-collectors-dashboard');
      const panels = JSON.parse(d.attributes.panelsJSON);
      panels[1].gridData.y = panels[0].gridData.y + 1;
      d.attributes.panelsJSON = JSON.stringify(panels);
      c['iot-collectors.ndjson'].at(-1).exportedCount = 99;
    });
    assertCaught(problems, /overlaps panel/);
    assertCaught(problems, /exportedCount 99/);
  });
});

test('kqlFields reads field names out of KQL', () => {
  assert.deepEqual(kqlFields('version: * and (sender : "a" or "error.status" >= 400) and not payload.type:x'), ['version', 'sender', 'error.status', 'payload.type']);
  assert.deepEqual(kqlFields(''), []);
});
