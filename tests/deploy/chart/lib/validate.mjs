// Validates rendered Kubernetes manifests without a cluster (stand-in for kubectl's server-side
// validation / kubeconform, neither of which can run here):
//   - built-in kinds: kubernetes-models' OpenAPI schema (types, required fields) and, because those
//     schemas allow unknown fields, a TypeScript excess-property check against kubernetes-types;
//   - MetalLB IPAddressPool / L2Advertisement and prometheus-operator ServiceMonitor: the strict
//     JSON schemas in ../schemas;
//   - anything else: an error, so no object escapes validation;
//   - rules the API server enforces that no schema expresses (names, labels, selectors, ...).
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { sourceOf } from './chart.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const schemaDir = path.resolve(here, '../schemas');

// ---- custom resources ------------------------------------------------------------------------

const customSchemaFiles = {
  'metallb.io/v1beta1/IPAddressPool': 'metallb-ipaddresspool.schema.json',
  'metallb.io/v1beta1/L2Advertisement': 'metallb-l2advertisement.schema.json',
  'monitoring.coreos.com/v1/ServiceMonitor': 'servicemonitor.schema.json',
};

let customValidators;
function customValidator(gvk) {
  if (!customValidators) {
    const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
    addFormats(ajv);
    ajv.addSchema(JSON.parse(readFileSync(path.join(schemaDir, 'common.schema.json'), 'utf8')));
    customValidators = {};
    for (const [key, file] of Object.entries(customSchemaFiles)) {
      customValidators[key] = ajv.compile(JSON.parse(readFileSync(path.join(schemaDir, file), 'utf8')));
    }
  }
  return customValidators[gvk];
}

function ajvMessages(errors) {
  return errors.map((e) => {
    const where = e.instancePath || '/';
    if (e.keyword === 'additionalProperties') return `${where}: unknown field "${e.params.additionalProperty}"`;
    if (e.keyword === 'enum') return `${where}: ${e.message} ${JSON.stringify(e.params.allowedValues)}`;
    return `${where}: ${e.message}`;
  });
}

// ---- built-in kinds: kubernetes-models -------------------------------------------------------

function modelClass(apiVersion, kind) {
  if (!/^[A-Za-z0-9.-]+(\/[A-Za-z0-9]+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return null;
  try {
    const Model = require(`kubernetes-models/${apiVersion}/${kind}`)[kind];
    // Spec types (DeploymentSpec...) have classes too; only real resources carry apiVersion/kind.
    return Model && Model.kind === kind && Model.apiVersion === apiVersion ? Model : null;
  } catch {
    return null;
  }
}

// ---- built-in kinds: kubernetes-types + TypeScript (unknown fields) ---------------------------

const typesRoot = path.dirname(require.resolve('kubernetes-types/package.json'));

/** The kubernetes-types module declaring apiVersion's types, if it declares `kind`. */
function typesModule(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['core', apiVersion];
  // kubernetes-types names folders by the group's first label: rbac.authorization.k8s.io → rbac.
  const file = path.join(typesRoot, group.split('.')[0], `${version}.d.ts`);
  if (!existsSync(file)) return null;
  const declares = new RegExp(`^export interface ${kind} \\{`, 'm').test(readFileSync(file, 'utf8'));
  return declares ? file.replace(/\.d\.ts$/, '') : null;
}

// The API server accepts a number wherever a resource.Quantity string is expected (cpu: 1), while
// kubernetes-types declares Quantity as string; these keys hold quantities, so numbers there are
// written as strings to keep tsc from reporting valid manifests.
const quantityMaps = new Set(['limits', 'requests', 'hard', 'capacity', 'allocatable', 'overhead']);
function isQuantityPath(p) {
  const parent = p[p.length - 2];
  const key = p[p.length - 1];
  return quantityMaps.has(parent) || key === 'sizeLimit' || key === 'storage';
}

/** Writes value as a TS literal, one property per line, recording each line's JSON path. */
function emitLiteral(value, jsonPath, prefix, suffix, indent, lines, paths) {
  const push = (text) => {
    lines.push(indent + text);
    paths.push(jsonPath);
  };
  if (Array.isArray(value)) {
    if (value.length === 0) return push(`${prefix}[]${suffix}`);
    push(`${prefix}[`);
    value.forEach((v, i) => emitLiteral(v, [...jsonPath, i], '', ',', `${indent}  `, lines, paths));
    return push(`]${suffix}`);
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return push(`${prefix}{}${suffix}`);
    push(`${prefix}{`);
    for (const [k, v] of entries) {
      emitLiteral(v, [...jsonPath, k], `${JSON.stringify(k)}: `, ',', `${indent}  `, lines, paths);
    }
    return push(`}${suffix}`);
  }
  // An explicit null is how YAML spells an empty field; the API server treats it as absent.
  if (value === null || value === undefined) return push(`${prefix}undefined${suffix}`);
  if (typeof value === 'number' && isQuantityPath(jsonPath)) return push(`${prefix}${JSON.stringify(String(value))}${suffix}`);
  return push(`${prefix}${JSON.stringify(value)}${suffix}`);
}

let ts;
/**
 * One tsc run (compiler API, noEmit, strict) over every typed object; returns errors per object
 * index as "/json/path: message".
 */
function typeCheck(entries) {
  const result = new Map();
  if (entries.length === 0) return result;
  ts ??= require('typescript');
  const lines = [];
  const paths = [];
  const owners = [];
  for (const { index, module, kind, object } of entries) {
    const start = lines.length;
    emitLiteral(object, [], `const o${index}: import(${JSON.stringify(module)}).${kind} = `, ';', '', lines, paths);
    for (let i = start; i < lines.length; i++) owners[i] = index;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'manifest-types-'));
  const file = path.join(dir, 'manifests.ts');
  try {
    writeFileSync(file, `${lines.join('\n')}\nexport {};\n`);
    const program = ts.createProgram([file], {
      noEmit: true,
      strict: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2020,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      types: [],
      lib: ['lib.es2020.d.ts'],
    });
    for (const diag of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(diag.messageText, ' ').replace(/\s+/g, ' ');
      if (!diag.file || path.resolve(diag.file.fileName) !== path.resolve(file) || diag.start === undefined) {
        result.set(-1, [...(result.get(-1) ?? []), `tsc: ${message}`]);
        continue;
      }
      const { line } = diag.file.getLineAndCharacterOfPosition(diag.start);
      const owner = owners[line];
      const where = `/${paths[line].join('/')}`;
      const short = message.length > 400 ? `${message.slice(0, 400)}...` : message;
      result.set(owner, [...(result.get(owner) ?? []), `${where}: ${short}`]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

// ---- rules no schema expresses ----------------------------------------------------------------

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const qualifiedNamePart = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const ianaSvcName = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function checkLabel(name) {
  if (name.length > 63) return 'must be at most 63 characters';
  if (!dns1123Label.test(name)) return 'must be a lowercase DNS-1123 label ([a-z0-9-], alphanumeric at both ends)';
  return null;
}

function checkSubdomain(name) {
  if (name.length > 253) return 'must be at most 253 characters';
  if (!dns1123Subdomain.test(name)) return 'must be a lowercase DNS-1123 subdomain';
  return null;
}

function checkQualifiedName(key) {
  const parts = key.split('/');
  if (parts.length > 2) return 'has more than one "/"';
  const name = parts[parts.length - 1];
  if (parts.length === 2) {
    const bad = parts[0] === '' ? 'has an empty prefix' : checkSubdomain(parts[0]);
    if (bad) return `prefix ${bad}`;
  }
  if (name.length === 0 || name.length > 63) return 'name part must be 1-63 characters';
  if (!qualifiedNamePart.test(name)) return 'name part must be alphanumeric, "-", "_" or "." and start and end alphanumeric';
  return null;
}

function checkLabelMap(map, where, errors) {
  if (map === undefined || map === null) return;
  if (typeof map !== 'object' || Array.isArray(map)) {
    errors.push(`${where}: must be a map of strings`);
    return;
  }
  for (const [key, value] of Object.entries(map)) {
    const badKey = checkQualifiedName(key);
    if (badKey) errors.push(`${where}: key "${key}" ${badKey}`);
    if (typeof value !== 'string') {
      errors.push(`${where}/${key}: label value must be a string, got ${JSON.stringify(value)}`);
    } else if (value.length > 63 || (value !== '' && !qualifiedNamePart.test(value))) {
      errors.push(`${where}/${key}: invalid label value "${value}" (at most 63 characters, alphanumeric, "-", "_", ".", alphanumeric at both ends)`);
    }
  }
}

function checkAnnotations(map, where, errors) {
  if (map === undefined || map === null || typeof map !== 'object') return;
  let size = 0;
  for (const [key, value] of Object.entries(map)) {
    const badKey = checkQualifiedName(key);
    if (badKey) errors.push(`${where}: key "${key}" ${badKey}`);
    if (typeof value !== 'string') errors.push(`${where}/${key}: annotation value must be a string`);
    size += key.length + String(value).length;
  }
  if (size > 256 * 1024) errors.push(`${where}: annotations exceed 256 KiB`);
}

// Kinds whose names are path segments, not DNS names (RBAC allows "system:foo").
const pathSegmentNameKinds = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);

function checkMetadata(object, errors) {
  const meta = object.metadata;
  if (!meta || typeof meta !== 'object') {
    errors.push('/metadata: required');
    return;
  }
  const { name, namespace } = meta;
  if (typeof name !== 'string' || name === '') {
    errors.push('/metadata/name: required');
  } else {
    let bad;
    if (object.kind === 'Service') {
      bad = name.length > 63 || !dns1035Label.test(name) ? 'must be a DNS-1035 label (start with a letter, at most 63 characters)' : null;
    } else if (object.kind === 'Namespace') {
      bad = checkLabel(name);
    } else if (pathSegmentNameKinds.has(object.kind)) {
      bad = ['.', '..'].includes(name) || /[/%]/.test(name) ? 'may not be "." or ".." or contain "/" or "%"' : null;
    } else {
      bad = checkSubdomain(name);
    }
    if (bad) errors.push(`/metadata/name: "${name}" ${bad}`);
  }
  if (namespace !== undefined) {
    const bad = typeof namespace === 'string' ? checkLabel(namespace) : 'must be a string';
    if (bad) errors.push(`/metadata/namespace: "${namespace}" ${bad}`);
  }
  checkLabelMap(meta.labels, '/metadata/labels', errors);
  checkAnnotations(meta.annotations, '/metadata/annotations', errors);
}

/** Every label selector's matchLabels anywhere in the object (pod affinity, PDBs, policies...). */
function checkNestedSelectors(value, where, errors) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkNestedSelectors(v, `${where}/${i}`, errors));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'matchLabels') checkLabelMap(v, `${where}/${k}`, errors);
      else if (k === 'labels' && where.endsWith('/metadata') && where !== '') checkLabelMap(v, `${where}/${k}`, errors);
      else checkNestedSelectors(v, `${where}/${k}`, errors);
    }
  }
}

function checkPodSpec(spec, where, errors, claimTemplates = []) {
  if (!spec || typeof spec !== 'object') return;
  const names = new Set();
  // A StatefulSet's volumeClaimTemplates are volumes its pods can mount too.
  const volumes = new Set(claimTemplates.map((c) => c?.metadata?.name).filter(Boolean));
  for (const [i, volume] of (Array.isArray(spec.volumes) ? spec.volumes : []).entries()) {
    if (typeof volume?.name !== 'string') continue;
    const bad = checkLabel(volume.name);
    if (bad) errors.push(`${where}/volumes/${i}/name: "${volume.name}" ${bad}`);
    if (volumes.has(volume.name)) errors.push(`${where}/volumes/${i}/name: duplicate volume "${volume.name}"`);
    volumes.add(volume.name);
  }
  for (const field of ['initContainers', 'containers']) {
    for (const [i, container] of (Array.isArray(spec[field]) ? spec[field] : []).entries()) {
      const at = `${where}/${field}/${i}`;
      if (typeof container?.name === 'string') {
        const bad = checkLabel(container.name);
        if (bad) errors.push(`${at}/name: "${container.name}" ${bad}`);
        if (names.has(container.name)) errors.push(`${at}/name: duplicate container name "${container.name}"`);
        names.add(container.name);
      }
      const portNames = new Set();
      for (const [j, port] of (Array.isArray(container?.ports) ? container.ports : []).entries()) {
        if (port?.name === undefined) continue;
        const n = String(port.name);
        if (n.length > 15 || !ianaSvcName.test(n) || !/[a-z]/.test(n) || n.includes('--')) {
          errors.push(`${at}/ports/${j}/name: "${n}" must be an IANA service name (at most 15 characters, [a-z0-9-], at least one letter)`);
        }
        if (portNames.has(n)) errors.push(`${at}/ports/${j}/name: duplicate port name "${n}"`);
        portNames.add(n);
      }
      for (const [j, mount] of (Array.isArray(container?.volumeMounts) ? container.volumeMounts : []).entries()) {
        if (typeof mount?.name === 'string' && !volumes.has(mount.name)) {
          errors.push(`${at}/volumeMounts/${j}/name: no volume named "${mount.name}" in the pod`);
        }
      }
    }
  }
}

const podTemplatePaths = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

function checkWorkload(object, errors) {
  if (object.kind === 'Pod') {
    checkPodSpec(object.spec, '/spec', errors);
    return;
  }
  const templatePath = podTemplatePaths[object.kind];
  if (!templatePath) return;
  const template = templatePath.reduce((o, k) => o?.[k], object);
  const where = `/${templatePath.join('/')}`;
  const claims = object.kind === 'StatefulSet' && Array.isArray(object.spec?.volumeClaimTemplates) ? object.spec.volumeClaimTemplates : [];
  checkPodSpec(template?.spec, `${where}/spec`, errors, claims);
  // The API server rejects a selector that does not select the pods the template makes.
  const ownerSpec = templatePath.slice(0, -1).reduce((o, k) => o?.[k], object);
  const selector = ownerSpec?.selector?.matchLabels;
  const labels = template?.metadata?.labels ?? {};
  if (selector && typeof selector === 'object') {
    for (const [k, v] of Object.entries(selector)) {
      if (labels[k] !== v) {
        errors.push(`${where}/metadata/labels: selector ${k}=${v} does not match the pod template's labels`);
      }
    }
  }
}

function checkService(object, errors) {
  if (object.kind !== 'Service' || !object.spec) return;
  checkLabelMap(object.spec.selector, '/spec/selector', errors);
  const ports = Array.isArray(object.spec.ports) ? object.spec.ports : [];
  const names = new Set();
  for (const [i, port] of ports.entries()) {
    if (ports.length > 1 && !port?.name) errors.push(`/spec/ports/${i}/name: required when a Service has several ports`);
    if (port?.name !== undefined) {
      const bad = checkLabel(String(port.name));
      if (bad) errors.push(`/spec/ports/${i}/name: "${port.name}" ${bad}`);
      if (names.has(port.name)) errors.push(`/spec/ports/${i}/name: duplicate port name "${port.name}"`);
      names.add(port.name);
    }
    if (typeof port?.targetPort === 'string' && (port.targetPort.length > 15 || !ianaSvcName.test(port.targetPort) || !/[a-z]/.test(port.targetPort))) {
      errors.push(`/spec/ports/${i}/targetPort: "${port.targetPort}" must be a port number or an IANA service name`);
    }
  }
}

// ---- entry point ------------------------------------------------------------------------------

function describe(object, index) {
  const kind = object?.kind ?? '<no kind>';
  const name = object?.metadata?.name ?? `<object ${index}>`;
  const source = object && typeof object === 'object' ? sourceOf(object) : undefined;
  return `${kind}/${name}${source ? ` (${source})` : ''}`;
}

/**
 * Validates every object; returns one "Kind/name (source): /json/path: problem" string per
 * problem found, [] when all objects are valid.
 */
export function validateManifests(objects) {
  const errorsByObject = objects.map(() => []);
  const typed = [];
  const seen = new Map();
  objects.forEach((object, index) => {
    const errors = errorsByObject[index];
    if (!object || typeof object !== 'object' || Array.isArray(object)) {
      errors.push('not a mapping');
      return;
    }
    const { apiVersion, kind } = object;
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
      errors.push('apiVersion and kind are required strings');
      return;
    }
    checkMetadata(object, errors);
    checkNestedSelectors(object, '', errors);
    checkWorkload(object, errors);
    checkService(object, errors);

    const identity = `${apiVersion.split('/').length > 1 ? apiVersion.split('/')[0] : ''}/${kind}/${object.metadata?.namespace ?? ''}/${object.metadata?.name}`;
    if (seen.has(identity)) errors.push(`same kind and name as object ${seen.get(identity)}: the second would overwrite the first`);
    else seen.set(identity, index);

    const custom = customValidator(`${apiVersion}/${kind}`);
    if (custom) {
      if (!custom(object)) errors.push(...ajvMessages(custom.errors));
      return;
    }
    // kubernetes-models still ships long-removed versions (apps/v1beta1...); kubernetes-types 1.30
    // declares only what Kubernetes 1.30 serves, so an object needs both to count as built in.
    const Model = modelClass(apiVersion, kind);
    const module = Model && typesModule(apiVersion, kind);
    if (!Model || !module) {
      errors.push(`no schema for ${apiVersion} ${kind} (not a Kubernetes 1.30 resource nor a custom resource in tests/deploy/chart/schemas)`);
      return;
    }
    try {
      new Model(structuredClone(object)).validate();
    } catch (err) {
      // kubernetes-models throws a ValidationError carrying ajv's error objects.
      const details = Array.isArray(err.errors) ? err.errors : null;
      if (details) errors.push(...ajvMessages(details));
      else errors.push(`schema: ${err.message}`);
    }
    typed.push({ index, module, kind, object });
  });
  for (const [index, messages] of typeCheck(typed)) {
    if (index === -1) errorsByObject.push(messages);
    else errorsByObject[index].push(...messages.map((m) => `unknown field or wrong type: ${m}`));
  }
  const out = [];
  errorsByObject.forEach((errors, index) => {
    const label = index < objects.length ? describe(objects[index], index) : 'typescript';
    for (const e of errors) out.push(`${label}: ${e}`);
  });
  return out;
}
