// Proves the chart-check tooling itself: helm-render reproduces what helm template does with the
// features charts use, and validateManifests catches each kind of defect it claims to. Runs
// against fixtures/mini, a small chart that uses every feature.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderChart, rendererBinary, sourceOf, writeValuesFile } from './lib/chart.mjs';
import { validateManifests } from './lib/validate.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, 'fixtures', 'mini');
const example = (name) => path.join(fixture, 'examples', name);
const everything = { valuesFiles: [example('metallb.yaml')], apiVersions: ['monitoring.coreos.com/v1'] };

/** Runs helm-render directly: { status, stdout, stderr }. */
function helmRender(args) {
  try {
    const stdout = execFileSync(rendererBinary(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { status: 0, stdout, stderr: '' };
  } catch (err) {
    return { status: err.status, stdout: String(err.stdout), stderr: String(err.stderr) };
  }
}

const scratch = mkdtempSync(path.join(tmpdir(), 'chart-tooling-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the fixture with one file replaced, for the failure cases. */
function mutatedChart(file, content) {
  const dir = mkdtempSync(path.join(scratch, 'mini-'));
  cpSync(fixture, dir, { recursive: true });
  writeFileSync(path.join(dir, file), content);
  return dir;
}

const find = (objects, kind) => objects.find((o) => o.kind === kind);

describe('helm-render', () => {
  test('include, tpl, missing values, .Template, .Chart, .Release, .Capabilities, lookup', () => {
    const { objects } = renderChart(fixture, { name: 'demo', namespace: 'ns1' });
    const cm = find(objects, 'ConfigMap');
    assert.equal(cm.metadata.name, 'demo-mini');
    assert.deepEqual(cm.metadata.labels, {
      'app.kubernetes.io/name': 'mini',
      'app.kubernetes.io/instance': 'demo',
      'app.kubernetes.io/version': '1.2.3',
      'app.kubernetes.io/managed-by': 'Helm',
      tier: 'backend',
    });
    assert.equal(cm.data.greeting, 'hello demo', 'tpl renders a values string as a template');
    assert.equal(cm.data.missing, '', 'a missing value renders empty, not "<no value>"');
    assert.equal(cm.data['template-name'], 'mini/templates/configmap.yaml');
    assert.equal(cm.data['kube-minor'], '30');
    assert.equal(cm.data['chart-version'], '0.2.0');
    assert.equal(cm.data.release, 'Helm/ns1/true/false/1');
    assert.equal(cm.data['lookup-empty'], 'true', 'lookup finds nothing without a cluster');
    assert.equal(cm.data['yaml-roundtrip'], 'ghcr.io/example/mini');
    assert.deepEqual(JSON.parse(cm.data['resources-json']), {
      limits: { memory: '64Mi' },
      requests: { cpu: '10m', memory: '32Mi' },
    });
    const minor = helmRender(['--kube-version', '1.29.3', fixture]).stdout;
    assert.match(minor, /kube-minor: "29"/);
  });

  test('toYaml | nindent keeps nested values intact', () => {
    const { objects } = renderChart(fixture, { set: { 'podAnnotations.example\\.com/team': 'iot' } });
    const pod = find(objects, 'Deployment').spec.template;
    assert.deepEqual(pod.spec.containers[0].resources, {
      limits: { memory: '64Mi' },
      requests: { cpu: '10m', memory: '32Mi' },
    });
    assert.deepEqual(pod.metadata.annotations, { 'example.com/team': 'iot' }, 'escaped dot stays in the key');
  });

  test('.Files.Get, .Files.Lines, .Files.Glob.AsConfig; .helmignore applies', () => {
    const cm = find(renderChart(fixture).objects, 'ConfigMap');
    assert.equal(cm.data['a-conf'], 'listen = 5683\n');
    assert.equal(cm.data['first-line'], 'threads = 2');
    assert.equal(cm.data['a.conf'], 'listen = 5683\n');
    assert.equal(cm.data['b.conf'], 'threads = 2\nlog = json\n');
    assert.equal(cm.data['stale.bak'], undefined, '.helmignore keeps *.bak out of .Files');
  });

  test('values: -f files merge in order, null deletes a default, --set is typed like helm', () => {
    const { values, objects } = renderChart(fixture, {
      valuesFiles: [example('metallb.yaml'), example('override.yaml')],
      set: { replicaCount: 3, 'metallb.enabled': 'true' },
    });
    assert.equal(values.extraLabels, undefined, 'null in a values file deletes the chart default');
    assert.deepEqual(values.metallb, { enabled: true, addresses: ['198.51.100.0/28'] }, 'later file wins, lists replace');
    assert.deepEqual(values.image, { repository: 'ghcr.io/example/mini', tag: '9.9.9' }, 'maps merge key by key');
    const deployment = find(objects, 'Deployment');
    assert.equal(deployment.spec.replicas, 3, '--set integers are numbers');
    assert.equal(deployment.metadata.labels.tier, undefined);
    assert.equal(deployment.spec.template.spec.containers[0].image, 'ghcr.io/example/mini:9.9.9');

    const printed = JSON.parse(
      helmRender(['--print-values', '--set', 'a.b[1].c=x,n=010,f=1.5,t=true,z=null,l={1,two}', fixture]).stdout,
    );
    assert.deepEqual(printed.a, { b: [null, { c: 'x' }] });
    assert.equal(printed.n, '010', 'a leading zero keeps a string');
    assert.equal(printed.f, '1.5', 'floats stay strings');
    assert.equal(printed.t, true);
    assert.equal('z' in printed, true, 'null for a key without a default stays (as in helm)');
    assert.deepEqual(printed.l, [1, 'two']);
    const deleted = JSON.parse(helmRender(['--print-values', '--set', 'extraLabels=null', fixture]).stdout);
    assert.equal('extraLabels' in deleted, false, '--set key=null deletes a default');
  });

  test('output: helm format, install order, hooks last, stable, NOTES only with --notes', () => {
    const plain = helmRender(['--name', 'iot', '--api-versions', 'monitoring.coreos.com/v1', '-f', example('metallb.yaml'), fixture]);
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stdout, /^---\n# Source: mini\/templates\/configmap\.yaml\napiVersion: v1\n/);
    const kinds = [...plain.stdout.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]);
    assert.deepEqual(kinds, ['ConfigMap', 'Service', 'Deployment', 'IPAddressPool', 'L2Advertisement', 'ServiceMonitor', 'Job']);
    assert.doesNotMatch(plain.stdout, /NOTES/);
    const again = helmRender(['--name', 'iot', '--api-versions', 'monitoring.coreos.com/v1', '-f', example('metallb.yaml'), fixture]);
    assert.equal(again.stdout, plain.stdout, 'rendering is deterministic');
    const { notes, objects } = renderChart(fixture, { name: 'iot', namespace: 'edge' });
    assert.equal(notes.trim(), 'mini 1.2.3 is installed as iot in edge.');
    assert.equal(sourceOf(find(objects, 'Service')), 'mini/templates/service.yaml');
    assert.equal('__source' in find(objects, 'Service'), false);
  });

  test('.Capabilities.APIVersions.Has follows --api-versions', () => {
    const values = { valuesFiles: [example('metallb.yaml')] };
    assert.equal(find(renderChart(fixture, values).objects, 'ServiceMonitor'), undefined);
    const withCrd = renderChart(fixture, { ...values, apiVersions: ['monitoring.coreos.com/v1'] });
    assert.equal(find(withCrd.objects, 'ServiceMonitor').spec.endpoints[0].interval, '30s');
  });

  test('required, fail, template errors, env and bad YAML fail with exit 1 and a message', () => {
    const required = helmRender(['--set', 'image.repository=', fixture]);
    assert.equal(required.status, 1);
    assert.match(required.stderr, /image\.repository is required/);
    assert.throws(() => renderChart(fixture, { set: { 'image.repository': '' } }), /image\.repository is required/);

    const fail = helmRender(['--set', 'metallb.enabled=true', fixture]);
    assert.equal(fail.status, 1);
    assert.match(fail.stderr, /metallb\.enabled needs metallb\.addresses/);

    const parse = helmRender([mutatedChart('templates/service.yaml', 'name: {{ .Values.x \n')]);
    assert.equal(parse.status, 1);
    assert.match(parse.stderr, /service\.yaml/);

    const env = helmRender([mutatedChart('templates/service.yaml', 'home: {{ env "HOME" }}\n')]);
    assert.equal(env.status, 1, 'env is removed, as in helm');
    assert.match(env.stderr, /function "env" not defined/);

    const badYaml = helmRender([mutatedChart('templates/service.yaml', 'a: [1\nb: 2\n')]);
    assert.equal(badYaml.status, 1);
    assert.match(badYaml.stderr, /YAML parse error on mini\/templates\/service\.yaml/);

    const duplicate = mutatedChart('templates/service.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n');
    assert.throws(() => renderChart(duplicate), /YAML error in mini\/templates\/service\.yaml.*[Mm]ap keys must be unique/s);

    const usage = helmRender(['--bogus', fixture]);
    assert.equal(usage.status, 2);
  });

  test('values are validated against values.schema.json with every error reported', () => {
    assert.throws(
      () => renderChart(fixture, { set: { replicaCount: 0, 'image.registry': 'x' } }),
      (err) => {
        assert.match(err.message, /\/replicaCount must be >= 1/);
        assert.match(err.message, /\/image must NOT have additional properties.*registry/);
        return true;
      },
    );
    const file = writeValuesFile({ serviceMonitor: { enabled: 'yes' } }, mkdtempSync(path.join(scratch, 'values-')));
    assert.throws(() => renderChart(fixture, { valuesFiles: [file] }), /\/serviceMonitor\/enabled must be boolean/);
  });
});

describe('validateManifests', () => {
  const render = () => renderChart(fixture, everything).objects;

  test('the fixture is valid, so every error below comes from its mutation', () => {
    const objects = render();
    assert.deepEqual(
      objects.map((o) => o.kind).sort(),
      ['ConfigMap', 'Deployment', 'IPAddressPool', 'Job', 'L2Advertisement', 'Service', 'ServiceMonitor'],
    );
    assert.deepEqual(validateManifests(objects), []);
  });

  test('an unknown field deep in a Deployment pod spec', () => {
    const objects = render();
    find(objects, 'Deployment').spec.template.spec.containers[0].securityContext = { readOnlyRootFileSystem: true };
    const errors = validateManifests(objects);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], /^Deployment\/iot-mini \(mini\/templates\/deployment\.yaml\): .*\/spec\/template\/spec\/containers\/0\/securityContext\/readOnlyRootFileSystem: .*'"readOnlyRootFileSystem"' does not exist in type 'SecurityContext'/);
  });

  test('a wrong type (replicas: "3")', () => {
    const objects = render();
    find(objects, 'Deployment').spec.replicas = '3';
    const errors = validateManifests(objects);
    assert.ok(errors.some((e) => /Deployment\/iot-mini .*\/spec\/replicas: must be integer/.test(e)), errors.join('\n'));
  });

  test('a missing required field (container without name)', () => {
    const objects = render();
    delete find(objects, 'Job').spec.template.spec.containers[0].name;
    const errors = validateManifests(objects);
    assert.ok(errors.some((e) => /Job\/iot-mini-setup .*containers\/0: must have required property name/.test(e)), errors.join('\n'));
  });

  test('bad MetalLB and ServiceMonitor fields', () => {
    const objects = render();
    find(objects, 'IPAddressPool').spec.autoassign = false;
    find(objects, 'L2Advertisement').spec.ipAddressPools = 'iot-mini';
    find(objects, 'ServiceMonitor').spec.endpoints[0].interval = '30 seconds';
    const errors = validateManifests(objects).join('\n');
    assert.match(errors, /IPAddressPool\/iot-mini .*\/spec: unknown field "autoassign"/);
    assert.match(errors, /L2Advertisement\/iot-mini .*\/spec\/ipAddressPools: must be array/);
    assert.match(errors, /ServiceMonitor\/iot-mini .*\/spec\/endpoints\/0\/interval: must match pattern/);
    const pool = render().find((o) => o.kind === 'IPAddressPool');
    pool.spec.addresses = ['not-an-address'];
    delete pool.metadata.name;
    const poolErrors = validateManifests([pool]).join('\n');
    assert.match(poolErrors, /\/spec\/addresses\/0: must match/);
    assert.match(poolErrors, /\/metadata: must have required property 'name'/);
  });

  test('an unknown kind, or a spec type posing as a kind, has no schema', () => {
    const objects = render();
    objects.push({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } });
    objects.push({ apiVersion: 'apps/v1', kind: 'DeploymentSpec', metadata: { name: 'd' } });
    objects.push({ apiVersion: 'apps/v1beta1', kind: 'Deployment', metadata: { name: 'old' } });
    const errors = validateManifests(objects).join('\n');
    assert.match(errors, /Widget\/w: no schema for example\.com\/v1 Widget/);
    assert.match(errors, /DeploymentSpec\/d: no schema for apps\/v1 DeploymentSpec/);
    assert.match(errors, /Deployment\/old: no schema for apps\/v1beta1 Deployment/);
  });

  test('API-server rules: names, labels, selectors, port names, volume mounts, duplicates', () => {
    const objects = render();
    const deployment = find(objects, 'Deployment');
    deployment.metadata.name = 'Iot_Mini';
    deployment.metadata.labels['app.kubernetes.io/version'] = 'v1.2.3+build';
    deployment.spec.selector.matchLabels.extra = 'x';
    const container = deployment.spec.template.spec.containers[0];
    container.ports[0].name = 'coap-udp-listener';
    container.volumeMounts[0].name = 'cfg';
    find(objects, 'Service').metadata.name = '1-service';
    objects.push(structuredClone(find(objects, 'ConfigMap')));
    const errors = validateManifests(objects).join('\n');
    assert.match(errors, /\/metadata\/name: "Iot_Mini" must be a lowercase DNS-1123 subdomain/);
    assert.match(errors, /invalid label value "v1\.2\.3\+build"/);
    assert.match(errors, /selector extra=x does not match the pod template's labels/);
    assert.match(errors, /ports\/0\/name: "coap-udp-listener" must be an IANA service name/);
    assert.match(errors, /volumeMounts\/0\/name: no volume named "cfg"/);
    assert.match(errors, /Service\/1-service .*must be a DNS-1035 label/);
    assert.match(errors, /ConfigMap\/iot-mini: same kind and name as object 0/);
  });
});
