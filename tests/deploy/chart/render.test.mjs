// Renders helm/iot-telemetry with its default values and with every examples/*.yaml values file,
// the way `helm template` would, and validates every manifest (see README.md for what stands in
// for helm and the API server here).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { renderChart, sourceOf } from './lib/chart.mjs';
import { validateManifests } from './lib/validate.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const sourceDir = process.env.IOT_SOURCE_DIR ?? path.resolve(here, '../../..');
const chartDir = path.join(sourceDir, 'helm', 'iot-telemetry');
const examplesDir = path.join(chartDir, 'examples');

const examples = existsSync(examplesDir)
  ? readdirSync(examplesDir).filter((f) => /\.ya?ml$/.test(f)).sort()
  : [];

/** True when a values file turns on a ServiceMonitor anywhere (serviceMonitor.enabled: true). */
function enablesServiceMonitor(values) {
  if (!values || typeof values !== 'object') return false;
  return Object.entries(values).some(
    ([key, value]) => (key === 'serviceMonitor' && value?.enabled === true) || enablesServiceMonitor(value),
  );
}

function checkRender(options) {
  const { objects, notes, yamlText } = renderChart(chartDir, { name: 'iot', namespace: 'iot', ...options });
  assert.ok(objects.length > 0, 'the chart renders at least one object');
  for (const object of objects) assert.ok(sourceOf(object), `${object.kind}/${object.metadata?.name} has a source template`);
  const errors = validateManifests(objects);
  assert.deepEqual(errors, [], `invalid manifests:\n${errors.join('\n')}`);
  assert.ok(notes.trim().length > 0, 'NOTES.txt renders to something');
  assert.doesNotMatch(notes, /<no value>|\{\{/, 'NOTES.txt has no unrendered values');
  return { objects, notes, yamlText };
}

describe('helm/iot-telemetry', () => {
  test('chart and examples exist', () => {
    assert.ok(existsSync(path.join(chartDir, 'Chart.yaml')), `${chartDir}/Chart.yaml`);
    assert.ok(examples.length > 0, `no values files in ${examplesDir}`);
  });

  test('default values render valid manifests, deterministically', () => {
    // Generated secrets (randAlphaNum when lookup finds none) differ per render; all else must not.
    const stable = (objects) =>
      objects.map((o) => (o.kind === 'Secret' ? { ...o, data: Object.keys(o.data ?? {}), stringData: Object.keys(o.stringData ?? {}) } : o));
    const first = checkRender({});
    const second = renderChart(chartDir, { name: 'iot', namespace: 'iot' });
    assert.deepEqual(stable(second.objects), stable(first.objects));
  });

  test('default values with the prometheus-operator API available still validate', () => {
    checkRender({ apiVersions: ['monitoring.coreos.com/v1'] });
  });

  for (const file of examples) {
    test(`examples/${file} renders valid manifests`, () => {
      const valuesFile = path.join(examplesDir, file);
      const wantsMonitor = enablesServiceMonitor(parse(readFileSync(valuesFile, 'utf8')));
      const { objects } = checkRender({
        valuesFiles: [valuesFile],
        apiVersions: wantsMonitor ? ['monitoring.coreos.com/v1'] : [],
      });
      if (wantsMonitor) {
        assert.ok(objects.some((o) => o.kind === 'ServiceMonitor'), 'serviceMonitor.enabled renders a ServiceMonitor');
      }
    });
  }
});
