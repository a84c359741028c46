// The configuration the deployments hand the collector must be configuration the collector
// accepts: a misspelt IOT_COLLECTOR_* variable, a value in the wrong unit or a secret file at
// the wrong path would otherwise only show up as a crash-looping Pod on a real cluster. For the
// chart (default values and every example) and for docker-compose.yml, this test takes the
// collector container's environment and mounted files exactly as rendered, starts the real
// iot-collector with them against the Elasticsearch test server (HTTPS with the mounted CA where
// the deployment configures one, authentication with the mounted credentials), and expects it to
// finish its Elasticsearch bootstrap, store an event, and name no variable it does not know.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { renderChart, writeValuesFile } from './lib/chart.mjs';
import { Collector } from '../../integration/lib/collector.mjs';
import { cleanupElastic, startEs, waitBootstrapped } from '../../integration/lib/elastic.mjs';
import { makeTestCertificates } from '../../elastic-test-server/certificates.mjs';
import { coapClient } from '../../integration/lib/coapClient.mjs';

const root = process.env.IOT_SOURCE_DIR ?? path.resolve('../../..');
const chartDir = path.join(root, 'helm/iot-telemetry');
const examples = fs
  .readdirSync(path.join(chartDir, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => path.join(chartDir, 'examples', f));

// What the Secrets hold in this test; the keys are the ones the deployment mounts.
const CREDENTIALS = { username: 'iot-collector', password: 'p"a$s w\\rd', apiKey: 'collector-id:collector-secret' };
// A PSK file in the format the collector reads (hex and base64 keys of 16 bytes, a comment).
const PSK_FILE = '# test devices\nsensor-1 00112233445566778899aabbccddeeff\nsensor-2\tbase64:ABEiM0RVZneImaq7zN3u/w==  # base64\n';
const temporary = [];
after(async () => {
  await cleanupElastic();
  for (const dir of temporary) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temporary.push(dir);
  return dir;
}

/** The content a mounted Secret/ConfigMap item has in this test, by what the deployment calls it. */
function mountedContent(key, certificates) {
  if (/ca\.(crt|pem)$|^ca$/.test(key)) return certificates.ca;
  if (/psk/i.test(key)) return PSK_FILE;
  if (/api.?key/i.test(key)) return CREDENTIALS.apiKey;
  if (/user/i.test(key)) return CREDENTIALS.username;
  if (/password/i.test(key)) return `${CREDENTIALS.password}\n`; // Secrets often end in a newline
  throw new Error(`no test content for mounted key ${key}`);
}

/**
 * The collector's environment from the rendered chart: its ConfigMap (envFrom) and env entries,
 * with every mounted volume materialised in a temp dir and paths into mounts rewritten to it.
 */
function chartEnvironment(objects, certificates) {
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-collector'));
  assert.ok(deployment, 'a collector Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c) => c.name === 'collector');
  const env = {};
  for (const from of container.envFrom ?? []) {
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef?.name);
    assert.ok(configMap, `envFrom ConfigMap ${from.configMapRef?.name} is rendered`);
    Object.assign(env, configMap.data);
  }
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) env[entry.name] = String(entry.value);
    else if (entry.valueFrom?.resourceFieldRef) env[entry.name] = '2'; // limits.cpu, divisor 1
    else assert.fail(`${entry.name}: only plain values and resource fields are expected, secrets come as files`);
  }
  const mounts = tempDir('collector-mounts-');
  const rewrites = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes.find((v) => v.name === mount.name);
    const source = volume.secret ?? volume.configMap;
    const dir = path.join(mounts, mount.name);
    fs.mkdirSync(dir);
    if (source) {
      assert.ok(source.items?.length, `${mount.name}: items name the files the collector reads`);
      for (const item of source.items) fs.writeFileSync(path.join(dir, item.path), mountedContent(item.key, certificates));
    }
    rewrites.push([mount.mountPath, dir]);
  }
  for (const [name, value] of Object.entries(env)) {
    for (const [mountPath, dir] of rewrites) {
      if (value.startsWith(`${mountPath}/`)) env[name] = dir + value.slice(mountPath.length);
    }
  }
  return env;
}

/** The collector service's environment from `docker-compose config` with .env.example. */
function composeEnvironment(envFile = '.env.example') {
  const text = execFileSync('docker-compose', ['-f', 'docker-compose.yml', '--env-file', envFile, 'config'], {
    cwd: root,
    encoding: 'utf8',
  });
  const service = parseYaml(text).services.collector;
  const env = { ...service.environment };
  // The password file lives on the collector-secrets volume, written there by the setup service.
  const secrets = tempDir('compose-secrets-');
  for (const [name, value] of Object.entries(env)) {
    // Empty is unset for the collector (compose renders DTLS off as IOT_COLLECTOR_PSK_FILE="").
    if (name.endsWith('_FILE') && value !== '') {
      const file = path.join(secrets, path.basename(value));
      fs.writeFileSync(file, mountedContent(path.basename(value), {}));
      env[name] = file;
    }
  }
  return env;
}

/**
 * Starts the test server the way `env` expects Elasticsearch (TLS when a CA is configured; the
 * mounted credentials), points the collector at it on loopback, and stores one event.
 */
async function startsAndStores(env, certificates) {
  for (const name of Object.keys(env)) assert.match(name, /^IOT_COLLECTOR_[A-Z0-9_]+$/);
  const tls = env.IOT_COLLECTOR_ELASTICSEARCH_CA ? { key: certificates.key, cert: certificates.cert, ca: certificates.ca } : undefined;
  const auth = env.IOT_COLLECTOR_ELASTICSEARCH_API_KEY_FILE
    ? { apiKey: CREDENTIALS.apiKey }
    : { username: CREDENTIALS.username, password: CREDENTIALS.password };
  const es = await startEs({ tls, auth });
  const dtls = Boolean(env.IOT_COLLECTOR_PSK_FILE);
  const plainClosed = env.IOT_COLLECTOR_REQUIRE_DTLS === 'true';
  const collector = await Collector.start({
    standardFlags: false,
    env: {
      ...env,
      // Loopback and free ports instead of the container's 0.0.0.0:5683, :5684 and :8080; the
      // rendered node URLs (cluster DNS names) replaced by the test server, with the same scheme.
      // With DTLS required the deployment sets no plain listen address, and neither does this.
      ...(plainClosed ? {} : { IOT_COLLECTOR_LISTEN: '127.0.0.1:0' }),
      ...(dtls ? { IOT_COLLECTOR_LISTEN_DTLS: '127.0.0.1:0' } : {}),
      IOT_COLLECTOR_ADMIN_LISTEN: '127.0.0.1:0',
      IOT_COLLECTOR_ELASTICSEARCH_URL: es.url,
      IOT_COLLECTOR_INSTANCE: 'deploy-test',
    },
  });
  try {
    await waitBootstrapped(collector);
    // The collector warns about IOT_COLLECTOR_* variables that name no flag: here, a typo.
    const ignored = collector.logsWith('ignoring environment variables that name no flag; a typo?');
    assert.deepEqual(ignored.map((line) => line.variables), [], 'every variable names a flag');
    // Plain CoAP is closed with DTLS required, and these tests have no DTLS client: starting with
    // the PSK file, bootstrapping and knowing every variable is what is checked then.
    if (plainClosed) return;
    const event = { sender: 'deploy-test', origin: 'chart', payload: { type: 'temperature', value: 21.5 } };
    const answer = await coapClient({ uri: collector.coapUri('/events'), method: 'post', payload: JSON.stringify(event), contentFormat: 50 });
    assert.equal(answer.code, '2.01', `${answer.code} ${answer.diagnostic}`);
  } finally {
    await collector.kill();
  }
}

describe('the real collector accepts the configuration the deployments give it', () => {
  const certificates = makeTestCertificates();
  temporary.push(certificates.dir);

  for (const valuesFile of [undefined, ...examples]) {
    const label = valuesFile ? path.relative(chartDir, valuesFile) : 'default values';
    it(`chart, ${label}`, async () => {
      const { objects } = renderChart(chartDir, { valuesFiles: valuesFile ? [valuesFile] : [] });
      await startsAndStores(chartEnvironment(objects, certificates), certificates);
    });
  }

  it('chart, with a per-device rate limit', async () => {
    const valuesFile = writeValuesFile({ collector: { rateLimit: 2.5, rateBurst: 7 } });
    const env = chartEnvironment(renderChart(chartDir, { valuesFiles: [valuesFile] }).objects, certificates);
    assert.equal(env.IOT_COLLECTOR_RATE_LIMIT, '2.500');
    assert.equal(env.IOT_COLLECTOR_RATE_BURST, '7');
    await startsAndStores(env, certificates);
  });

  it('chart, with DTLS-PSK from a Secret (plain CoAP still open)', async () => {
    const valuesFile = writeValuesFile({ dtls: { enabled: true, existingSecret: 'iot-psk', maxSessions: 100, idleTimeoutSeconds: 30 } });
    const env = chartEnvironment(renderChart(chartDir, { valuesFiles: [valuesFile] }).objects, certificates);
    assert.equal(fs.readFileSync(env.IOT_COLLECTOR_PSK_FILE, 'utf8'), PSK_FILE);
    assert.equal(env.IOT_COLLECTOR_REQUIRE_DTLS, 'false');
    await startsAndStores(env, certificates);
  });

  it('chart, with DTLS-PSK required', async () => {
    const valuesFile = writeValuesFile({ dtls: { enabled: true, required: true, existingSecret: 'iot-psk' } });
    const env = chartEnvironment(renderChart(chartDir, { valuesFiles: [valuesFile] }).objects, certificates);
    assert.equal(env.IOT_COLLECTOR_REQUIRE_DTLS, 'true');
    assert.equal(env.IOT_COLLECTOR_LISTEN, undefined);
    await startsAndStores(env, certificates);
  });

  it('docker-compose.yml with .env.example', async () => {
    const env = composeEnvironment();
    assert.equal(env.IOT_COLLECTOR_PSK_FILE, '', 'DTLS is off by default');
    await startsAndStores(env, certificates);
  });

  it('docker-compose.yml with DTLS-PSK turned on in .env', async () => {
    const dir = tempDir('compose-dtls-');
    const envFile = path.join(dir, 'dtls.env');
    fs.writeFileSync(path.join(dir, 'psk.txt'), PSK_FILE);
    fs.writeFileSync(envFile, fs.readFileSync(path.join(root, '.env.example'), 'utf8')
      .replace(/^PSK_HOST_FILE=.*$/m, `PSK_HOST_FILE=${path.join(dir, 'psk.txt')}`)
      .replace(/^COLLECTOR_PSK_FILE=.*$/m, 'COLLECTOR_PSK_FILE=/run/secrets/psk.txt'));
    const env = composeEnvironment(envFile);
    assert.equal(path.basename(env.IOT_COLLECTOR_PSK_FILE), 'psk.txt');
    await startsAndStores(env, certificates);
  });

  it('and the check fails for a variable the collector does not know', async () => {
    const { objects } = renderChart(chartDir, {});
    const env = { ...chartEnvironment(objects, certificates), IOT_COLLECTOR_BULK_MAX_DOC: '10' };
    await assert.rejects(startsAndStores(env, certificates), /IOT_COLLECTOR_BULK_MAX_DOC/);
  });
});
