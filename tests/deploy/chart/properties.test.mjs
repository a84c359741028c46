// Properties of the rendered iot-telemetry chart, for the default values and every example:
// what an operator relies on (UDP LoadBalancer with MetalLB annotations, probes on the admin
// port, the restricted security context, resources everywhere, PDB/HPA wiring, a grace period
// that covers drain + shutdown, image pinning, NetworkPolicy rules, hook ordering, the helm test,
// secrets only as Secret files or secretKeyRef, a README entry for every value, and a schema that
// refuses realistic mistakes). Each check is a function returning error strings, and each is also
// run on a deliberately broken copy to prove it can fail.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderChart, validateValues, writeValuesFile } from './lib/chart.mjs';

const sourceDir = process.env.IOT_SOURCE_DIR ?? path.resolve(import.meta.dirname, '../../..');
const chartDir = path.join(sourceDir, 'helm/iot-telemetry');
const examplesDir = path.join(chartDir, 'examples');
const apiVersions = ['metallb.io/v1beta1', 'monitoring.coreos.com/v1'];
const namespace = 'iot';
const release = 'iot';

const cases = [
  { name: 'default values', valuesFiles: [] },
  ...readdirSync(examplesDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({ name: `examples/${f}`, valuesFiles: [path.join(examplesDir, f)] })),
];

function render(valuesFiles, set = {}) {
  return renderChart(chartDir, { valuesFiles, set, name: release, namespace, apiVersions });
}

const clone = (x) => structuredClone(x);
const workloadKinds = new Set(['Deployment', 'StatefulSet', 'Job', 'Pod']);
const podSpecOf = (o) => (o.kind === 'Pod' ? o.spec : o.spec?.template?.spec);
const podLabelsOf = (o) => (o.kind === 'Pod' ? o.metadata.labels : o.spec?.template?.metadata?.labels) ?? {};
const component = (o) => podLabelsOf(o)['app.kubernetes.io/component'];
const matches = (selector, labels) =>
  Object.keys(selector ?? {}).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
const find = (objects, kind, predicate = () => true) => objects.filter((o) => o.kind === kind && predicate(o));
const hookOf = (o) => o.metadata.annotations?.['helm.sh/hook'];
const collector = (objects) =>
  find(objects, 'Deployment', (o) => component(o) === 'collector')[0];
// The devices' Service: plain CoAP (port "coap") and/or DTLS (port "coaps", alone with dtls.required).
const coapService = (objects) =>
  find(objects, 'Service', (o) => o.spec.ports?.some((p) => p.name === 'coap' || p.name === 'coaps'))[0];

/** Env of a container with envFrom ConfigMaps resolved (what the process sees, secrets aside). */
function effectiveEnv(objects, container) {
  const env = {};
  for (const from of container.envFrom ?? []) {
    const cm = find(objects, 'ConfigMap', (o) => o.metadata.name === from.configMapRef?.name)[0];
    Object.assign(env, cm?.data ?? {});
  }
  for (const e of container.env ?? []) env[e.name] = e.value ?? e.valueFrom;
  return env;
}

function containersOf(o) {
  const spec = podSpecOf(o);
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

// --- the checks: (ctx: {objects, values, notes}) => string[] ---------------------------------

const checks = {
  coapService({ objects, values }) {
    const errors = [];
    const svc = coapService(objects);
    if (!svc) return ['no Service with a port named coap or coaps'];
    const want = values.service.coap;
    if (svc.spec.type !== want.type) errors.push(`type ${svc.spec.type}, want ${want.type}`);
    const coap = svc.spec.ports.find((p) => p.name === 'coap');
    // dtls.required closes plain CoAP: no port 5683 anywhere a device could reach.
    if (values.dtls.required) {
      if (coap) errors.push(`plain CoAP port ${coap.port} on the Service although dtls.required`);
    } else if (!coap) {
      errors.push('no coap port on the Service');
    } else if (coap.protocol !== 'UDP' || coap.port !== want.port || coap.targetPort !== 'coap') {
      errors.push(`coap port ${coap.protocol}/${coap.port} -> ${coap.targetPort}`);
    }
    if (svc.spec.ports.some((p) => p.protocol !== 'UDP')) errors.push('a non-UDP port on the CoAP Service');
    const dtls = svc.spec.ports.find((p) => p.name === 'coaps');
    if (values.dtls.enabled !== Boolean(dtls)) errors.push(`DTLS port present=${Boolean(dtls)}, dtls.enabled=${values.dtls.enabled}`);
    if (dtls && (dtls.port !== values.dtls.port || dtls.targetPort !== 'coaps')) errors.push(`coaps port ${dtls.port} -> ${dtls.targetPort}`);
    // MetalLB: both ports on this one Service share its IP; no second device-facing Service
    // (which would need metallb.io/allow-shared-ip to get the same address).
    const deviceServices = find(objects, 'Service', (o) => o.spec.ports?.some((p) => p.protocol === 'UDP'));
    if (deviceServices.length !== 1) errors.push(`${deviceServices.length} Services with UDP ports, want 1`);
    if (svc.spec.externalTrafficPolicy !== want.externalTrafficPolicy) {
      errors.push(`externalTrafficPolicy ${svc.spec.externalTrafficPolicy}, want ${want.externalTrafficPolicy}`);
    }
    const annotations = svc.metadata.annotations ?? {};
    const pool = want.addressPool || (values.metallb.pool.create ? values.metallb.pool.name || `${release}-iot-telemetry` : '');
    const expected = {
      'metallb.io/loadBalancerIPs': want.loadBalancerIPs,
      'metallb.io/address-pool': pool,
      'metallb.io/allow-shared-ip': want.allowSharedIP,
    };
    for (const [key, value] of Object.entries(expected)) {
      if ((annotations[key] ?? '') !== value) errors.push(`annotation ${key}=${annotations[key]}, want ${value || '(absent)'}`);
    }
    // The Service must reach the collector Pods and only them.
    const dep = collector(objects);
    if (!matches(svc.spec.selector, podLabelsOf(dep))) errors.push('selector does not select the collector Pods');
    for (const o of objects.filter((x) => workloadKinds.has(x.kind) && x !== dep)) {
      if (matches(svc.spec.selector, podLabelsOf(o))) errors.push(`selector also selects ${o.kind}/${o.metadata.name}`);
    }
    const admin = find(objects, 'Service', (o) => o.spec.ports?.some((p) => p.name === 'admin'))[0];
    if (!admin || (admin.spec.type ?? 'ClusterIP') !== 'ClusterIP') errors.push('no ClusterIP admin Service');
    else if (admin.spec.ports[0].port !== values.service.admin.port || admin.spec.ports[0].targetPort !== 'admin') {
      errors.push(`admin Service port ${admin.spec.ports[0].port} -> ${admin.spec.ports[0].targetPort}`);
    }
    return errors;
  },

  metallbResources({ objects, values }) {
    const pools = find(objects, 'IPAddressPool');
    const l2 = find(objects, 'L2Advertisement');
    const m = values.metallb;
    const errors = [];
    if (!m.pool.create) return pools.length || l2.length ? ['MetalLB resources without metallb.pool.create'] : [];
    if (pools.length !== 1) return [`${pools.length} IPAddressPools`];
    const [pool] = pools;
    if (pool.metadata.namespace !== m.namespace) errors.push(`pool in ${pool.metadata.namespace}, want ${m.namespace}`);
    if (JSON.stringify(pool.spec.addresses) !== JSON.stringify(m.pool.addresses)) errors.push('pool addresses differ from values');
    if (pool.spec.autoAssign !== m.pool.autoAssign || pool.spec.avoidBuggyIPs !== m.pool.avoidBuggyIPs) errors.push('pool flags differ');
    if (m.l2Advertisement.enabled) {
      if (l2.length !== 1 || !l2[0].spec.ipAddressPools?.includes(pool.metadata.name)) errors.push('no L2Advertisement for the pool');
      else if (l2[0].metadata.namespace !== m.namespace) errors.push('L2Advertisement outside MetalLB namespace');
    }
    const svc = coapService(objects);
    if (!values.service.coap.addressPool && svc.metadata.annotations?.['metallb.io/address-pool'] !== pool.metadata.name) {
      errors.push('CoAP Service does not ask for the chart-owned pool');
    }
    return errors;
  },

  collectorProbes({ objects }) {
    const dep = collector(objects);
    const c = dep.spec.template.spec.containers.find((x) => x.name === 'collector');
    const adminPort = c.ports.find((p) => p.name === 'admin');
    const errors = [];
    if (adminPort?.containerPort !== 8080 || adminPort.protocol !== 'TCP') errors.push('no TCP admin port 8080');
    const env = effectiveEnv(objects, c);
    if (env.IOT_COLLECTOR_ADMIN_LISTEN && !env.IOT_COLLECTOR_ADMIN_LISTEN.endsWith(':8080')) {
      errors.push(`collector admin listens on ${env.IOT_COLLECTOR_ADMIN_LISTEN}`);
    }
    const coapPort = c.ports.find((p) => p.name === 'coap');
    if (env.IOT_COLLECTOR_REQUIRE_DTLS === 'true') {
      if (coapPort || env.IOT_COLLECTOR_LISTEN) errors.push('plain CoAP port or listen address although DTLS is required');
    } else if (coapPort?.containerPort !== 5683 || coapPort.protocol !== 'UDP') errors.push('no UDP coap port 5683');
    const coapsPort = c.ports.find((p) => p.name === 'coaps');
    if (Boolean(coapsPort) !== Boolean(env.IOT_COLLECTOR_PSK_FILE)) errors.push('coaps port and IOT_COLLECTOR_PSK_FILE disagree');
    if (coapsPort && (coapsPort.containerPort !== 5684 || coapsPort.protocol !== 'UDP')) errors.push('coaps is not UDP 5684');
    for (const [probe, pathWanted] of [['startupProbe', '/healthz'], ['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']]) {
      const get = c[probe]?.httpGet;
      if (!get) { errors.push(`${probe} is not an httpGet`); continue; }
      if (get.path !== pathWanted) errors.push(`${probe} path ${get.path}, want ${pathWanted}`);
      if (get.port !== 'admin' && get.port !== 8080) errors.push(`${probe} port ${get.port}`);
    }
    return errors;
  },

  securityContexts({ objects }) {
    const errors = [];
    // Every container the chart builds itself (not the Elastic images) runs restricted.
    for (const o of objects.filter((x) => workloadKinds.has(x.kind))) {
      const spec = podSpecOf(o);
      const own = !['elasticsearch', 'kibana'].includes(component(o));
      for (const c of containersOf(o)) {
        const sc = c.securityContext ?? {};
        const where = `${o.kind}/${o.metadata.name}/${c.name}`;
        if (sc.allowPrivilegeEscalation !== false) errors.push(`${where}: allowPrivilegeEscalation not false`);
        if (JSON.stringify(sc.capabilities?.drop) !== '["ALL"]' || sc.capabilities?.add) errors.push(`${where}: capabilities not drop ALL`);
        if ((sc.seccompProfile ?? spec.securityContext?.seccompProfile)?.type !== 'RuntimeDefault') errors.push(`${where}: seccomp not RuntimeDefault`);
        if ((sc.runAsNonRoot ?? spec.securityContext?.runAsNonRoot) !== true) errors.push(`${where}: runAsNonRoot not true`);
        if (sc.privileged) errors.push(`${where}: privileged`);
        if (own) {
          if (sc.readOnlyRootFilesystem !== true) errors.push(`${where}: root filesystem writable`);
          if (sc.runAsUser !== 65532 || sc.runAsGroup !== 65532) errors.push(`${where}: not 65532:65532`);
        }
      }
      if (own && spec.automountServiceAccountToken !== false) errors.push(`${o.kind}/${o.metadata.name}: service account token mounted`);
      // Service links would inject <SERVICE>_PORT variables, e.g. IOT_COLLECTOR_PORT into the
      // collector's own IOT_COLLECTOR_* configuration namespace.
      if (spec.enableServiceLinks !== false) errors.push(`${o.kind}/${o.metadata.name}: service links enabled`);
    }
    return errors;
  },

  resources({ objects }) {
    const errors = [];
    for (const o of objects.filter((x) => workloadKinds.has(x.kind))) {
      for (const c of containersOf(o)) {
        for (const kind of ['requests', 'limits']) {
          for (const r of ['cpu', 'memory']) {
            if (c.resources?.[kind]?.[r] === undefined) errors.push(`${o.kind}/${o.metadata.name}/${c.name}: no ${kind}.${r}`);
          }
        }
      }
    }
    return errors;
  },

  pdbAndHpa({ objects, values }) {
    const errors = [];
    const dep = collector(objects);
    const pdbs = find(objects, 'PodDisruptionBudget');
    if (values.collector.podDisruptionBudget.enabled) {
      if (pdbs.length !== 1) return [`${pdbs.length} PodDisruptionBudgets`];
      const [pdb] = pdbs;
      if (pdb.apiVersion !== 'policy/v1') errors.push(`PDB ${pdb.apiVersion}`);
      if (!matches(pdb.spec.selector.matchLabels, podLabelsOf(dep))) errors.push('PDB does not select the collector Pods');
      for (const o of objects.filter((x) => workloadKinds.has(x.kind) && x !== dep)) {
        if (matches(pdb.spec.selector.matchLabels, podLabelsOf(o))) errors.push(`PDB also selects ${o.metadata.name}`);
      }
      if (pdb.spec.maxUnavailable !== values.collector.podDisruptionBudget.maxUnavailable) errors.push('PDB maxUnavailable');
    }
    const hpas = find(objects, 'HorizontalPodAutoscaler');
    if (values.collector.autoscaling.enabled) {
      if (hpas.length !== 1) return [...errors, `${hpas.length} HPAs`];
      const [hpa] = hpas;
      const ref = hpa.spec.scaleTargetRef;
      if (hpa.apiVersion !== 'autoscaling/v2') errors.push(`HPA ${hpa.apiVersion}`);
      if (ref.kind !== 'Deployment' || ref.apiVersion !== 'apps/v1' || ref.name !== dep.metadata.name) {
        errors.push(`HPA targets ${ref.kind}/${ref.name}, not ${dep.metadata.name}`);
      }
      if (hpa.spec.minReplicas > hpa.spec.maxReplicas) errors.push('HPA min > max');
      if (!hpa.spec.metrics?.some((m) => m.resource?.name === 'cpu')) errors.push('HPA has no CPU metric');
      if (dep.spec.replicas !== undefined) errors.push('Deployment sets replicas although the HPA owns them');
    } else {
      if (hpas.length) errors.push('HPA rendered although disabled');
      if (dep.spec.replicas !== values.collector.replicas) errors.push(`replicas ${dep.spec.replicas}, want ${values.collector.replicas}`);
    }
    return errors;
  },

  gracePeriod({ objects }) {
    const dep = collector(objects);
    const c = dep.spec.template.spec.containers.find((x) => x.name === 'collector');
    const env = effectiveEnv(objects, c);
    const drain = Number(env.IOT_COLLECTOR_DRAIN_DELAY ?? 0);
    const shutdown = Number(env.IOT_COLLECTOR_SHUTDOWN_TIMEOUT ?? 10);
    const grace = dep.spec.template.spec.terminationGracePeriodSeconds;
    const errors = [];
    if (!(grace > drain + shutdown)) errors.push(`terminationGracePeriodSeconds ${grace} <= drain ${drain} + shutdown ${shutdown}`);
    if (!(drain < shutdown)) errors.push(`drain delay ${drain} not below shutdown timeout ${shutdown}`);
    return errors;
  },

  image({ objects, values }) {
    const want = values.image.digest
      ? `${values.image.repository}@${values.image.digest}`
      : `${values.image.repository}:${values.image.tag || '0.1.0'}`;
    const errors = [];
    const ours = objects.filter((o) => workloadKinds.has(o.kind) && ['collector', 'test'].includes(component(o)));
    // No test Pod with dtls.required (iotc speaks no DTLS): see helmTest.
    if (ours.length < (values.dtls.required ? 1 : 2)) errors.push('collector Deployment or test Pod missing');
    for (const o of ours) {
      for (const c of containersOf(o)) if (c.image !== want) errors.push(`${o.metadata.name}: image ${c.image}, want ${want}`);
    }
    return errors;
  },

  networkPolicies({ objects, values }) {
    const errors = [];
    const policies = find(objects, 'NetworkPolicy');
    const es = find(objects, 'StatefulSet', (o) => component(o) === 'elasticsearch')[0];
    const esPolicy = policies.find((p) => es && matches(p.spec.podSelector.matchLabels, podLabelsOf(es)));
    if (values.elasticsearch.enabled && values.networkPolicy.elasticsearch.enabled) {
      if (!esPolicy) return ['no NetworkPolicy selects the Elasticsearch Pod'];
      if (!esPolicy.spec.policyTypes?.includes('Ingress')) errors.push('ES policy lacks policyTypes Ingress');
      const allowed = new Set();
      for (const rule of esPolicy.spec.ingress ?? []) {
        const ports = rule.ports ?? [];
        if (ports.length === 0 || ports.some((p) => p.port !== 9200 || (p.protocol ?? 'TCP') !== 'TCP')) {
          errors.push(`ES ingress rule opens ${JSON.stringify(ports)}`);
        }
        if (!rule.from?.length) errors.push('ES ingress rule from anywhere');
        for (const peer of rule.from ?? []) {
          if (peer.ipBlock || peer.namespaceSelector || !peer.podSelector) errors.push(`ES peer ${JSON.stringify(peer)}`);
          for (const o of objects.filter((x) => workloadKinds.has(x.kind))) {
            if (peer.podSelector && matches(peer.podSelector.matchLabels, podLabelsOf(o))) allowed.add(component(o));
          }
        }
      }
      const want = ['collector', 'elasticsearch-setup', ...(values.kibana.enabled ? ['kibana'] : [])].sort();
      const got = [...allowed].sort();
      if (JSON.stringify(got) !== JSON.stringify(want)) errors.push(`ES reachable from [${got}], want [${want}]`);
    } else if (esPolicy && !values.networkPolicy.elasticsearch.enabled) {
      errors.push('ES NetworkPolicy although disabled');
    }
    const dep = collector(objects);
    const cPolicy = policies.find((p) => matches(p.spec.podSelector.matchLabels, podLabelsOf(dep)));
    if (values.networkPolicy.collector.enabled) {
      if (!cPolicy) return [...errors, 'no NetworkPolicy for the collectors'];
      const udp = cPolicy.spec.ingress.find((r) => r.ports?.some((p) => p.port === 5683 && p.protocol === 'UDP'));
      if (values.dtls.required) {
        if (udp) errors.push('plain CoAP 5683 admitted although dtls.required');
      } else if (!udp || udp.from) errors.push('CoAP not open to every device');
      const dtls = cPolicy.spec.ingress.find((r) => r.ports?.some((p) => p.port === 5684 && p.protocol === 'UDP'));
      if (values.dtls.enabled && (!dtls || dtls.from)) errors.push('DTLS 5684/udp not open to every device');
      if (!values.dtls.enabled && dtls) errors.push('DTLS 5684/udp admitted although dtls.enabled is false');
      const admin = cPolicy.spec.ingress.find((r) => r.ports?.some((p) => p.port === 8080));
      if (!admin || JSON.stringify(admin.from?.[0]?.namespaceSelector) !== JSON.stringify(values.networkPolicy.collector.monitoringNamespaceSelector)) {
        errors.push('admin port not limited to the monitoring namespace');
      }
      if (admin?.from?.length !== 1) errors.push('admin port open to more than the monitoring namespace');
    } else if (cPolicy) {
      errors.push('collector NetworkPolicy although disabled');
    }
    return errors;
  },

  jobsAndHooks({ objects, values }) {
    const errors = [];
    const jobs = find(objects, 'Job');
    const setup = jobs.find((j) => component(j) === 'elasticsearch-setup');
    const dashboards = jobs.find((j) => component(j) === 'dashboards');
    if (values.elasticsearch.enabled) {
      if (!setup) errors.push('no Elasticsearch setup Job');
      // Not a hook: helm --wait readies all resources before post-install hooks, and Kibana and
      // the collectors become ready only after the setup ran.
      else if (hookOf(setup)) errors.push(`setup Job is a hook (${hookOf(setup)}): dead-locks helm --wait`);
      else if (!setup.metadata.name.endsWith('-r1')) errors.push(`setup Job name ${setup.metadata.name} lacks the revision`);
    } else if (setup) errors.push('setup Job without in-chart Elasticsearch');
    if (values.kibana.enabled && values.dashboards.enabled) {
      if (!dashboards) return [...errors, 'no dashboards Job'];
      const a = dashboards.metadata.annotations ?? {};
      if (a['helm.sh/hook'] !== 'post-install,post-upgrade') errors.push(`dashboards hook ${a['helm.sh/hook']}`);
      if (!/^-?\d+$/.test(a['helm.sh/hook-weight'] ?? '') || Number(a['helm.sh/hook-weight']) <= 0) errors.push(`hook weight ${a['helm.sh/hook-weight']}`);
      if (a['helm.sh/hook-delete-policy'] !== 'before-hook-creation,hook-succeeded') errors.push(`delete policy ${a['helm.sh/hook-delete-policy']}`);
      const spec = dashboards.spec;
      if (!(spec.backoffLimit >= 0) || !(spec.activeDeadlineSeconds > values.dashboards.waitSeconds)) errors.push('dashboards Job limits');
      const c = spec.template.spec.containers[0];
      if (c.image !== 'curlimages/curl:8.11.1') errors.push(`dashboards image ${c.image}`);
      if (JSON.stringify(c.command) !== '["sh","/dashboards/import.sh"]') errors.push(`dashboards command ${c.command}`);
      const env = effectiveEnv(objects, c);
      const kibanaSvc = find(objects, 'Service', (o) => component(o) === 'kibana' || o.spec.selector?.['app.kubernetes.io/component'] === 'kibana')[0];
      if (env.KIBANA_URL !== `http://${kibanaSvc?.metadata.name}.${namespace}.svc:${kibanaSvc?.spec.ports[0].port}`) errors.push(`KIBANA_URL ${env.KIBANA_URL}`);
      if (!env.KIBANA_USERNAME || !env.KIBANA_PASSWORD_FILE) errors.push('dashboards credentials missing');
      const mount = c.volumeMounts.find((m) => m.mountPath === '/dashboards');
      const volume = spec.template.spec.volumes.find((v) => v.name === mount?.name);
      const cm = find(objects, 'ConfigMap', (o) => o.metadata.name === volume?.configMap?.name)[0];
      const keys = Object.keys(cm?.data ?? {});
      if (!keys.includes('import.sh') || !keys.some((k) => k.endsWith('.ndjson'))) errors.push(`dashboards ConfigMap keys [${keys}]`);
      if (hookOf(cm ?? {metadata: {}})) errors.push('dashboards ConfigMap is a hook (it must exist before the hook runs)');
    } else if (dashboards) errors.push('dashboards Job although disabled');
    return errors;
  },

  helmTest({ objects, values }) {
    const pods = find(objects, 'Pod', (o) => hookOf(o) === 'test');
    // iotc speaks no DTLS: with plain CoAP closed, a test Pod could only fail.
    if (values.dtls.required) return pods.length ? [`${pods.length} helm test Pods although dtls.required`] : [];
    if (pods.length !== 1) return [`${pods.length} helm test Pods`];
    const [pod] = pods;
    const errors = [];
    if (pod.spec.restartPolicy !== 'Never') errors.push('test Pod restartPolicy');
    const c = pod.spec.containers[0];
    const argv = [...(c.command ?? []), ...(c.args ?? [])];
    const svc = coapService(objects);
    const want = ['/usr/local/bin/iotc', '--host', `${svc.metadata.name}.${namespace}.svc`, '--port', String(values.service.coap.port), 'send', 'helm-test', '1'];
    if (JSON.stringify(argv) !== JSON.stringify(want)) errors.push(`test argv ${JSON.stringify(argv)}`);
    return errors;
  },

  secretsOnlyFromSecrets({ objects }) {
    const errors = [];
    const secretLike = /PASSWORD|API_?KEY|ENCRYPTIONKEY|TOKEN|SECRET|PSK/i;
    const secretValues = [];
    for (const s of find(objects, 'Secret')) {
      for (const v of Object.values(s.data ?? {})) secretValues.push(Buffer.from(v, 'base64').toString());
      for (const v of Object.values(s.stringData ?? {})) secretValues.push(v);
    }
    for (const o of objects.filter((x) => workloadKinds.has(x.kind))) {
      const spec = podSpecOf(o);
      for (const c of containersOf(o)) {
        const where = `${o.kind}/${o.metadata.name}/${c.name}`;
        const env = effectiveEnv(objects, c);
        for (const [name, value] of Object.entries(env)) {
          if (!secretLike.test(name)) continue;
          if (name.endsWith('_FILE')) {
            const mount = (c.volumeMounts ?? []).find((m) => typeof value === 'string' && value.startsWith(`${m.mountPath}/`));
            const volume = spec.volumes?.find((v) => v.name === mount?.name);
            if (!volume?.secret) errors.push(`${where}: ${name}=${JSON.stringify(value)} is not in a mounted Secret`);
          } else if (!value?.secretKeyRef) {
            errors.push(`${where}: ${name} is not from a secretKeyRef`);
          }
        }
      }
    }
    // No generated secret value may appear anywhere but in its Secret.
    const text = JSON.stringify(objects.filter((o) => o.kind !== 'Secret'));
    for (const v of secretValues) if (v.length >= 8 && text.includes(v)) errors.push('a secret value appears outside its Secret');
    const dep = collector(objects);
    const env = effectiveEnv(objects, dep.spec.template.spec.containers[0]);
    if (!env.IOT_COLLECTOR_ELASTICSEARCH_PASSWORD_FILE && !env.IOT_COLLECTOR_ELASTICSEARCH_API_KEY_FILE) {
      errors.push('collector has no Elasticsearch credentials file');
    }
    return errors;
  },

  dtls({ objects, values }) {
    const errors = [];
    const dep = collector(objects);
    const spec = dep.spec.template.spec;
    const c = spec.containers.find((x) => x.name === 'collector');
    const env = effectiveEnv(objects, c);
    const d = values.dtls;
    const dtlsVars = Object.keys(env).filter((k) => /PSK|DTLS/.test(k));
    if (!d.enabled) return dtlsVars.length ? [`DTLS variables without dtls.enabled: ${dtlsVars}`] : [];
    const want = {
      IOT_COLLECTOR_LISTEN_DTLS: '0.0.0.0:5684',
      IOT_COLLECTOR_REQUIRE_DTLS: String(d.required),
      IOT_COLLECTOR_DTLS_MAX_SESSIONS: String(d.maxSessions),
      IOT_COLLECTOR_DTLS_IDLE_TIMEOUT: String(d.idleTimeoutSeconds),
    };
    for (const [k, v] of Object.entries(want)) if (env[k] !== v) errors.push(`${k}=${env[k]}, want ${v}`);
    const file = env.IOT_COLLECTOR_PSK_FILE;
    if (typeof file !== 'string') return [...errors, 'no IOT_COLLECTOR_PSK_FILE'];
    // The PSK file must be a file of dtls.existingSecret's volume, mounted as a directory: the
    // kubelet updates Secret volumes by a symlink swap that subPath mounts never see.
    const mount = (c.volumeMounts ?? []).find((m) => file.startsWith(`${m.mountPath}/`));
    const volume = spec.volumes?.find((v) => v.name === mount?.name);
    if (!mount) return [...errors, `${file} is in no mounted volume`];
    if (mount.subPath || mount.subPathExpr) errors.push('the PSK Secret is mounted with subPath (never updated)');
    if (mount.readOnly !== true) errors.push('the PSK Secret is mounted writable');
    if (volume?.secret?.secretName !== d.existingSecret) errors.push(`PSK volume from ${JSON.stringify(volume?.secret?.secretName)}, want ${d.existingSecret}`);
    const item = volume?.secret?.items?.find((i) => `${mount.mountPath}/${i.path}` === file);
    if (item?.key !== d.secretKey) errors.push(`PSK file from key ${item?.key}, want ${d.secretKey}`);
    if (((volume?.secret?.defaultMode ?? 0o644) & 0o007) !== 0) errors.push('PSK file readable by others');
    // No key material in the rendered chart: the chart never creates the PSK Secret itself.
    if (find(objects, 'Secret', (s) => s.metadata.name === d.existingSecret).length) errors.push('the chart renders the PSK Secret');
    return errors;
  },

  notes({ notes, objects }) {
    const svc = coapService(objects);
    const errors = [];
    if (!notes.includes(`kubectl get svc --namespace ${namespace} ${svc.metadata.name}`)) errors.push('NOTES lacks kubectl get svc');
    if (!notes.includes('iotc')) errors.push('NOTES lacks iotc');
    return errors;
  },
};

// --- the properties, for every case -------------------------------------------------------------

const rendered = new Map();
for (const c of cases) rendered.set(c.name, render(c.valuesFiles));

for (const c of cases) {
  describe(c.name, () => {
    for (const [name, check] of Object.entries(checks)) {
      test(name, () => {
        const { objects, values, notes } = rendered.get(c.name);
        assert.deepEqual(check({ objects, values, notes }), []);
      });
    }
  });
}

describe('variants', () => {
  test('image.digest pins collector and test images by digest', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const r = render([], { 'image.digest': digest, 'image.tag': '9.9.9' });
    assert.deepEqual(checks.image(r), []);
    assert.equal(collector(r.objects).spec.template.spec.containers[0].image, `ghcr.io/iot-telemetry/iot-telemetry@${digest}`);
  });

  test('dtls, NodePort-free shared IP, API key, CA ConfigMap and Cluster policy render consistently', () => {
    const r = render([path.join(examplesDir, 'external-elasticsearch.yaml')], {
      'dtls.enabled': true,
      'dtls.existingSecret': 'iot-psk',
      'service.coap.externalTrafficPolicy': 'Cluster',
      'service.coap.allowSharedIP': 'iot',
      'externalElasticsearch.apiKeyKey': 'api-key',
      'externalElasticsearch.ca.secretName': '',
      'externalElasticsearch.ca.configMapName': 'es-ca',
      'networkPolicy.collector.enabled': true,
    });
    for (const [name, check] of Object.entries(checks)) assert.deepEqual(check(r), [], name);
    const c = collector(r.objects).spec.template.spec.containers[0];
    const env = effectiveEnv(r.objects, c);
    assert.equal(env.IOT_COLLECTOR_ELASTICSEARCH_API_KEY_FILE, '/etc/iot-collector/elasticsearch/api-key');
    assert.equal(env.IOT_COLLECTOR_ELASTICSEARCH_USERNAME_FILE, undefined);
    assert.equal(env.IOT_COLLECTOR_ELASTICSEARCH_CA, '/etc/iot-collector/elasticsearch-ca/ca.crt');
    const ca = collector(r.objects).spec.template.spec.volumes.find((v) => v.name === 'elasticsearch-ca');
    assert.equal(ca.configMap.name, 'es-ca');
  });

  test('dtls.enabled: both UDP ports on the one LoadBalancer Service, the PSK Secret mounted as a directory', () => {
    const r = render([], {
      'dtls.enabled': true,
      'dtls.existingSecret': 'device-keys',
      'dtls.secretKey': 'keys',
      'dtls.port': 15684,
      'dtls.maxSessions': 500,
      'dtls.idleTimeoutSeconds': 60,
      'service.coap.loadBalancerIPs': '192.168.10.240',
      'networkPolicy.collector.enabled': true,
    });
    for (const [name, check] of Object.entries(checks)) assert.deepEqual(check(r), [], name);
    const svc = coapService(r.objects);
    assert.deepEqual(svc.spec.ports.map((p) => `${p.name} ${p.port}/${p.protocol} -> ${p.targetPort}`), ['coap 5683/UDP -> coap', 'coaps 15684/UDP -> coaps']);
    assert.equal(svc.spec.type, 'LoadBalancer');
    assert.equal(svc.metadata.annotations['metallb.io/loadBalancerIPs'], '192.168.10.240');
    const spec = collector(r.objects).spec.template.spec;
    const c = spec.containers[0];
    assert.deepEqual(c.ports.map((p) => `${p.name} ${p.containerPort}/${p.protocol}`), ['coap 5683/UDP', 'coaps 5684/UDP', 'admin 8080/TCP']);
    assert.deepEqual(c.volumeMounts.find((m) => m.name === 'dtls-psk'), { name: 'dtls-psk', mountPath: '/etc/iot-collector/dtls', readOnly: true });
    assert.deepEqual(spec.volumes.find((v) => v.name === 'dtls-psk').secret.items, [{ key: 'keys', path: 'psk.txt' }]);
    const env = effectiveEnv(r.objects, c);
    assert.equal(env.IOT_COLLECTOR_PSK_FILE, '/etc/iot-collector/dtls/psk.txt');
    assert.equal(env.IOT_COLLECTOR_REQUIRE_DTLS, 'false');
    assert.equal(env.IOT_COLLECTOR_LISTEN, '0.0.0.0:5683');
    assert.equal(env.IOT_COLLECTOR_DTLS_MAX_SESSIONS, '500');
    assert.equal(env.IOT_COLLECTOR_DTLS_IDLE_TIMEOUT, '60');
    const policy = find(r.objects, 'NetworkPolicy', (p) => p.metadata.name.endsWith('-collector'))[0];
    assert.deepEqual(policy.spec.ingress[0].ports, [{ port: 5683, protocol: 'UDP' }, { port: 5684, protocol: 'UDP' }]);
    assert.equal(find(r.objects, 'Pod', (o) => hookOf(o) === 'test').length, 1, 'the helm test still sends plain CoAP');
    assert.match(r.notes, /DTLS-PSK UDP 15684/);
  });

  test('dtls.required: port 5683 gone from the Service, the container, the NetworkPolicy and the helm test', () => {
    const r = render([], {
      'dtls.enabled': true,
      'dtls.required': true,
      'dtls.existingSecret': 'iot-psk',
      'networkPolicy.collector.enabled': true,
    });
    for (const [name, check] of Object.entries(checks)) assert.deepEqual(check(r), [], name);
    assert.deepEqual(coapService(r.objects).spec.ports.map((p) => `${p.name} ${p.port}`), ['coaps 5684']);
    const c = collector(r.objects).spec.template.spec.containers[0];
    assert.deepEqual(c.ports.map((p) => p.name), ['coaps', 'admin']);
    const env = effectiveEnv(r.objects, c);
    assert.equal(env.IOT_COLLECTOR_REQUIRE_DTLS, 'true');
    assert.equal(env.IOT_COLLECTOR_LISTEN, undefined, 'nothing listens on plain CoAP');
    const policy = find(r.objects, 'NetworkPolicy', (p) => p.metadata.name.endsWith('-collector'))[0];
    assert.deepEqual(policy.spec.ingress[0].ports, [{ port: 5684, protocol: 'UDP' }]);
    assert.doesNotMatch(JSON.stringify(r.objects), /"(containerPort|port)":5683\b/);
    assert.equal(find(r.objects, 'Pod', (o) => hookOf(o) === 'test').length, 0);
    assert.match(r.notes, /Plain CoAP is closed/);
    assert.doesNotMatch(r.notes, /--port 5683/);
  });

  test('the DTLS checks catch a subPath mount, a lost coaps port and 5683 left open', () => {
    const base = render([], { 'dtls.enabled': true, 'dtls.required': true, 'dtls.existingSecret': 'iot-psk', 'networkPolicy.collector.enabled': true });
    const broken = (mutate) => {
      const b = { objects: clone(base.objects), values: clone(base.values), notes: base.notes };
      mutate(b.objects);
      return b;
    };
    const subPath = broken((o) => {
      const m = collector(o).spec.template.spec.containers[0].volumeMounts.find((x) => x.name === 'dtls-psk');
      Object.assign(m, { mountPath: '/etc/iot-collector/dtls/psk.txt', subPath: 'psk.txt' });
    });
    assert.notDeepEqual(checks.dtls(subPath), []);
    assert.notDeepEqual(checks.coapService(broken((o) => { coapService(o).spec.ports = [{ name: 'coap', port: 5683, targetPort: 'coap', protocol: 'UDP' }]; })), []);
    assert.notDeepEqual(checks.networkPolicies(broken((o) => {
      find(o, 'NetworkPolicy', (p) => p.metadata.name.endsWith('-collector'))[0].spec.ingress[0].ports.push({ port: 5683, protocol: 'UDP' });
    })), []);
    assert.notDeepEqual(checks.collectorProbes(broken((o) => {
      collector(o).spec.template.spec.containers[0].ports.unshift({ name: 'coap', containerPort: 5683, protocol: 'UDP' });
    })), []);
  });

  test('a configuration change changes the Pods checksum (rolls them)', () => {
    const a = collector(rendered.get('default values').objects).spec.template.metadata.annotations['checksum/config'];
    const b = collector(render([], { 'collector.maxBatch': 50 }).objects).spec.template.metadata.annotations['checksum/config'];
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.notEqual(a, b);
  });

  test('cross-value mistakes fail the render with a clear message', () => {
    assert.throws(() => render([], { 'collector.drainDelay': 10, 'collector.shutdownTimeout': 10 }), /drainDelay \(10\) must be below/);
    assert.throws(() => render([], { 'metallb.pool.create': true }), /metallb.pool.addresses/);
    assert.throws(() => render([], { 'elasticsearch.enabled': false }), /externalElasticsearch.url/);
    assert.throws(() => render([], { 'collector.rateBurst': 3 }), /rateBurst needs collector.rateLimit/);
    assert.throws(() => render([], { 'dtls.enabled': true }), /dtls.enabled needs dtls.existingSecret/);
    assert.throws(() => render([], { 'dtls.required': true }), /dtls.required .*needs dtls.enabled/);
  });

  test('the rate limit is rendered only when set, as plain decimals the collector accepts', () => {
    const env = (objects) => objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-collector')).data;
    const defaults = env(rendered.get('default values').objects);
    assert.equal(defaults.IOT_COLLECTOR_RATE_LIMIT, undefined);
    assert.equal(defaults.IOT_COLLECTOR_RATE_BURST, undefined);
    const limited = env(render([], { 'collector.rateLimit': 1000000, 'collector.rateBurst': 3 }).objects);
    assert.equal(limited.IOT_COLLECTOR_RATE_LIMIT, '1000000.000'); // not YAML's 1e+06
    assert.equal(limited.IOT_COLLECTOR_RATE_BURST, '3');
    const rateOnly = env(render([writeValuesFile({ collector: { rateLimit: 0.5 } })]).objects);
    assert.equal(rateOnly.IOT_COLLECTOR_RATE_LIMIT, '0.500');
    assert.equal(rateOnly.IOT_COLLECTOR_RATE_BURST, undefined);
  });
});

// --- README: every leaf value documented -----------------------------------------------------

/** Leaf paths of values.yaml; objects the schema leaves free-form (affinity, behavior) are leaves. */
function leafPaths(values, schema, prefix = []) {
  if (schema?.type === 'object' && schema.properties && values && typeof values === 'object' && !Array.isArray(values)) {
    return Object.entries(values).flatMap(([k, v]) => leafPaths(v, schema.properties[k], [...prefix, k]));
  }
  return [prefix.join('.')];
}

function undocumented(readme, values, schema) {
  return leafPaths(values, schema).filter((p) => !readme.includes(`\`${p}\``));
}

describe('README', () => {
  const schema = JSON.parse(readFileSync(path.join(chartDir, 'values.schema.json'), 'utf8'));
  const readme = readFileSync(path.join(chartDir, 'README.md'), 'utf8');
  const values = rendered.get('default values').values;

  test('documents every leaf value of values.yaml', () => {
    const leaves = leafPaths(values, schema);
    assert.ok(leaves.length > 100, `only ${leaves.length} leaves found`);
    assert.deepEqual(undocumented(readme, values, schema), []);
  });

  test('the check catches a value missing from the README', () => {
    const broken = readme.replaceAll('`collector.drainDelay`', '`collector.drain`');
    assert.deepEqual(undocumented(broken, values, schema), ['collector.drainDelay']);
  });
});

// --- the schema refuses realistic mistakes ---------------------------------------------------

describe('values.schema.json', () => {
  const base = rendered.get('default values').values;
  const mistakes = {
    'replicas as a string': (v) => { v.collector.replicas = '3'; },
    'unknown key (typo)': (v) => { v.collector.replicaCount = 3; },
    'unknown top-level key': (v) => { v.replicas = 3; },
    'bad externalTrafficPolicy': (v) => { v.service.coap.externalTrafficPolicy = 'local'; },
    'negative drain delay': (v) => { v.collector.drainDelay = -1; },
    'rate limit below 0.001': (v) => { v.collector.rateLimit = 0.0001; },
    'fractional rate burst': (v) => { v.collector.rateBurst = 2.5; },
    'bad ack mode': (v) => { v.collector.ack = 'always'; },
    'digest without algorithm': (v) => { v.image.digest = 'abc123'; },
    'Elasticsearch 7': (v) => { v.elasticsearch.image.tag = '7.17.0'; },
    'unknown key in resources': (v) => { v.collector.resources.request = { cpu: '1' }; },
    'a key in values instead of a Secret': (v) => { v.dtls.psk = 'sensor-1 00112233445566778899aabbccddeeff'; },
    'dtls.required as a string': (v) => { v.dtls.required = 'true'; },
    'dtls port 0': (v) => { v.dtls.port = 0; },
    'dtls port above 65535': (v) => { v.dtls.port = 70000; },
    'dtls.existingSecret not a Secret name': (v) => { v.dtls.existingSecret = 'IoT_PSK'; },
    'dtls.secretKey with a slash': (v) => { v.dtls.secretKey = 'keys/psk.txt'; },
    'zero DTLS sessions': (v) => { v.dtls.maxSessions = 0; },
    'fractional DTLS idle timeout': (v) => { v.dtls.idleTimeoutSeconds = 2.5; },
  };

  test('accepts the defaults', () => validateValues(chartDir, clone(base)));

  for (const [name, mutate] of Object.entries(mistakes)) {
    test(`rejects ${name}`, () => {
      const v = clone(base);
      mutate(v);
      assert.throws(() => validateValues(chartDir, v), /values do not match/);
    });
  }

  test('rejects a mistake in a values file passed to the renderer', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'chart-props-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'collector:\n  replicas: "3"\n');
    assert.throws(() => render([file]), /replicas/);
  });
});

// --- every check can fail: run each on a deliberately broken copy ----------------------------

describe('each check catches a broken rendering', () => {
  const base = rendered.get('examples/production-metallb.yaml');
  const dep = (objects) => collector(objects);
  const container = (objects) => dep(objects).spec.template.spec.containers[0];
  const mutations = [
    ['coapService', 'TCP instead of UDP', (o) => { coapService(o).spec.ports[0].protocol = 'TCP'; }],
    ['coapService', 'externalTrafficPolicy flipped', (o) => { coapService(o).spec.externalTrafficPolicy = 'Cluster'; }],
    ['coapService', 'MetalLB IP annotation lost', (o) => { delete coapService(o).metadata.annotations['metallb.io/loadBalancerIPs']; }],
    ['coapService', 'selector matches nothing', (o) => { coapService(o).spec.selector['app.kubernetes.io/component'] = 'x'; }],
    ['metallbResources', 'pool in the release namespace', (o) => { find(o, 'IPAddressPool')[0].metadata.namespace = namespace; }],
    ['collectorProbes', 'readiness on /healthz', (o) => { container(o).readinessProbe.httpGet.path = '/healthz'; }],
    ['collectorProbes', 'liveness on the CoAP port', (o) => { container(o).livenessProbe.httpGet.port = 'coap'; }],
    ['securityContexts', 'writable root filesystem', (o) => { container(o).securityContext.readOnlyRootFilesystem = false; }],
    ['securityContexts', 'a capability added back', (o) => { container(o).securityContext.capabilities = { drop: ['ALL'], add: ['NET_ADMIN'] }; }],
    ['securityContexts', 'Job running as root', (o) => { find(o, 'Job')[0].spec.template.spec.containers[0].securityContext.runAsUser = 0; }],
    ['resources', 'no memory limit on a Job', (o) => { delete find(o, 'Job')[0].spec.template.spec.containers[0].resources.limits.memory; }],
    ['pdbAndHpa', 'PDB selecting Kibana', (o) => { find(o, 'PodDisruptionBudget')[0].spec.selector.matchLabels['app.kubernetes.io/component'] = 'kibana'; }],
    ['pdbAndHpa', 'HPA targeting another Deployment', (o) => { find(o, 'HorizontalPodAutoscaler')[0].spec.scaleTargetRef.name = 'other'; }],
    ['gracePeriod', 'grace period equal to drain + shutdown', (o) => { dep(o).spec.template.spec.terminationGracePeriodSeconds = 20; }],
    ['image', 'image by tag although a digest is set', (o, v) => { v.image.digest = `sha256:${'0'.repeat(64)}`; }],
    ['networkPolicies', 'transport port opened', (o) => { find(o, 'NetworkPolicy')[0].spec.ingress[0].ports.push({ port: 9300, protocol: 'TCP' }); }],
    ['networkPolicies', 'ES open to every Pod', (o) => { find(o, 'NetworkPolicy')[0].spec.ingress[0].from.push({ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'test' } } }); }],
    ['networkPolicies', 'admin port open to all', (o) => { find(o, 'NetworkPolicy')[1].spec.ingress[1].from = undefined; }],
    ['jobsAndHooks', 'dashboards Job not a hook', (o) => { delete find(o, 'Job', (j) => component(j) === 'dashboards')[0].metadata.annotations['helm.sh/hook']; }],
    ['jobsAndHooks', 'setup Job as post-install hook', (o) => { const j = find(o, 'Job', (x) => component(x) === 'elasticsearch-setup')[0]; j.metadata.annotations = { 'helm.sh/hook': 'post-install' }; }],
    ['helmTest', 'test sends to the wrong port', (o) => { const p = find(o, 'Pod')[0]; p.spec.containers[0].args[3] = '5684'; }],
    ['secretsOnlyFromSecrets', 'password as a literal env value', (o) => { container(o).env.push({ name: 'IOT_COLLECTOR_ELASTICSEARCH_PASSWORD', value: 'hunter2hunter2' }); }],
    ['secretsOnlyFromSecrets', 'password file outside a Secret mount', (o) => { container(o).env.find((e) => e.name.endsWith('PASSWORD_FILE')).value = '/tmp/password'; }],
    ['secretsOnlyFromSecrets', 'generated password copied into a ConfigMap', (o) => {
      const s = find(o, 'Secret')[0];
      find(o, 'ConfigMap')[0].data.LEAK = Buffer.from(Object.values(s.data)[0], 'base64').toString();
    }],
    ['notes', 'NOTES without iotc', (o, v, r) => { r.notes = 'nothing'; }],
  ];

  for (const [checkName, what, mutate] of mutations) {
    test(`${checkName}: ${what}`, () => {
      assert.deepEqual(checks[checkName](base), [], 'the unbroken rendering must pass first');
      const broken = { objects: clone(base.objects), values: clone(base.values), notes: base.notes };
      mutate(broken.objects, broken.values, broken);
      assert.notDeepEqual(checks[checkName](broken), []);
    });
  }
});
