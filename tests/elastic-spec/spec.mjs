// The official Elasticsearch specification (the schema.json that npm @elastic/request-converter
// ships, generated from github.com/elastic/elasticsearch-specification) as a small resolver and
// validator: look up endpoints and types by namespace + name, collect an interface's properties
// through `inherits`, and check a JSON value against a type. schema.json is about 10 MB: load it
// once per process with loadSpec().
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SCHEMA_PATH = path.join(here, 'node_modules', '@elastic', 'request-converter', 'dist', 'schema.json');

const keyOf = (ref) => `${ref.namespace}.${ref.name}`;
export const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// Aliases of _builtins.number that only hold whole numbers.
const INTEGER_TYPES = new Set(['_types.byte', '_types.short', '_types.integer', '_types.long', '_types.uint', '_types.ulong']);
const ADDITIONAL = new Set(['AdditionalProperties', 'AdditionalProperty']);

function jsonKind(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** A short text for a type reference (ValueOf), for messages. */
export function describeType(vo) {
  switch (vo.kind) {
    case 'instance_of':
      return keyOf(vo.type);
    case 'array_of':
      return `${describeType(vo.value)}[]`;
    case 'union_of':
      return vo.items.map(describeType).join(' | ');
    case 'dictionary_of':
      return `Dictionary<${describeType(vo.key)}, ${describeType(vo.value)}>${vo.singleKey ? ' (single key)' : ''}`;
    case 'literal_value':
      return JSON.stringify(vo.value);
    case 'user_defined_value':
      return 'user-defined value';
    default:
      return vo.kind;
  }
}

let cached;

/** The specification, parsed once per process. */
export function loadSpec(file = SCHEMA_PATH) {
  if (cached?.file === file) return cached.spec;
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: run \`npm ci --prefix tests/elastic-spec\` (or ci/install-deps.sh)`);
  }
  const spec = new Spec(JSON.parse(fs.readFileSync(file, 'utf8')));
  cached = { file, spec };
  return spec;
}

export class Spec {
  constructor(schema) {
    if (!Array.isArray(schema?.types) || !Array.isArray(schema?.endpoints)) {
      throw new Error('schema.json has no types/endpoints arrays: not an Elasticsearch specification');
    }
    this.schema = schema;
    this.types = new Map(schema.types.map((t) => [keyOf(t.name), t]));
    this.endpoints = new Map(schema.endpoints.map((e) => [e.name, e]));
    // Generic parameters (e.g. _global.bulk.Request.TDocument) are names without a type.
    this.genericParams = new Set();
    for (const t of schema.types) for (const g of t.generics ?? []) this.genericParams.add(keyOf(g));
  }

  /** The type `namespace`.`name`; throws if the specification has none. */
  type(namespace, name) {
    const t = this.types.get(`${namespace}.${name}`);
    if (!t) throw new Error(`the specification has no type ${namespace}.${name}`);
    return t;
  }

  endpoint(name) {
    const e = this.endpoints.get(name);
    if (!e) throw new Error(`the specification has no endpoint ${name}`);
    return e;
  }

  requestType(endpointName) {
    const e = this.endpoint(endpointName);
    return this.type(e.request.namespace, e.request.name);
  }

  responseType(endpointName) {
    const e = this.endpoint(endpointName);
    return this.type(e.response.namespace, e.response.name);
  }

  /**
   * The properties of an interface (following `inherits`), or of a request's or response's body.
   * Returns {name, properties: Map(name -> {name, required, type, aliases, containerProperty,
   * declaredIn}), required: Set, names: Set (names and aliases), additionalProperties, container,
   * shortcutProperty}.
   */
  resolve(typeOrNamespace, name) {
    let t = typeof typeOrNamespace === 'string' ? this.type(typeOrNamespace, name) : typeOrNamespace;
    const top = t;
    const properties = new Map();
    let additionalProperties = false;
    const seen = new Set();
    while (t) {
      const k = keyOf(t.name);
      if (seen.has(k)) throw new Error(`inheritance cycle at ${k}`);
      seen.add(k);
      let own;
      if (t.kind === 'interface') own = t.properties;
      else if (t.kind === 'request' || t.kind === 'response') own = t.body?.kind === 'properties' ? t.body.properties : [];
      else throw new Error(`${k} is a ${t.kind}, not an interface, request or response`);
      for (const p of own) {
        if (!properties.has(p.name)) properties.set(p.name, { ...p, aliases: p.aliases ?? [], declaredIn: k });
      }
      if ((t.attachedBehaviors ?? []).some((b) => ADDITIONAL.has(b))) additionalProperties = true;
      t = t.inherits ? this.type(t.inherits.type.namespace, t.inherits.type.name) : null;
    }
    const required = new Set([...properties.values()].filter((p) => p.required).map((p) => p.name));
    const names = new Set();
    for (const p of properties.values()) {
      names.add(p.name);
      for (const a of p.aliases) names.add(a);
    }
    return {
      name: keyOf(top.name),
      properties,
      required,
      names,
      additionalProperties,
      container: top.variants?.kind === 'container',
      shortcutProperty: top.shortcutProperty,
    };
  }

  /** The property `prop` of a type (by name or alias), following inherits; throws if absent. */
  property(namespace, name, prop) {
    const r = this.resolve(namespace, name);
    const p = r.properties.get(prop) ?? [...r.properties.values()].find((x) => x.aliases.includes(prop));
    if (!p) throw new Error(`${namespace}.${name} has no property "${prop}" (it has: ${[...r.properties.keys()].join(', ')})`);
    return p;
  }

  /** Names of the query parameters an endpoint takes, with the common ones (pretty, filter_path, ...). */
  queryParameters(endpointName) {
    const req = this.requestType(endpointName);
    const names = new Set();
    const add = (props) => {
      for (const p of props ?? []) {
        names.add(p.name);
        for (const a of p.aliases ?? []) names.add(a);
      }
    };
    add(req.query);
    for (const b of req.attachedBehaviors ?? []) {
      const behavior = this.types.get(`_spec_utils.${b}`);
      if (behavior?.kind === 'interface') add(behavior.properties);
    }
    return names;
  }

  /**
   * The url of an endpoint that `method` `pathname` matches: {path, methods, params} or null.
   * "/{index}/_bulk" matches "/iot-events/_bulk" with params {index: "iot-events"}.
   */
  matchUrl(endpointName, method, pathname) {
    for (const url of this.endpoint(endpointName).urls) {
      const names = [];
      const pattern = url.path
        .split(/(\{[^}]+\})/)
        .map((part) => {
          const m = /^\{([^}]+)\}$/.exec(part);
          if (m) {
            names.push(m[1]);
            return '([^/]+)';
          }
          return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
        })
        .join('');
      const m = new RegExp(`^${pattern}$`).exec(pathname);
      if (m && url.methods.includes(method)) {
        return { path: url.path, methods: url.methods, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])])) };
      }
    }
    return null;
  }

  /**
   * Checks `value` against a type reference (a ValueOf: {kind: 'instance_of', type: {namespace,
   * name}}, ...) and returns the violations as strings ("$.create._id: expected string, got
   * number"); [] when it conforms. Interfaces refuse properties they don't define unless they
   * have the AdditionalProperties behavior, a container takes exactly one of its variants, and
   * internally tagged unions (mapping properties by "type") are resolved by their tag.
   */
  validate(value, valueOf, where = '$') {
    const errors = [];
    this.#check(value, valueOf, where, new Map(), errors);
    return errors;
  }

  /** validate() against the named type. */
  validateType(value, namespace, name, where = '$') {
    return this.validate(value, { kind: 'instance_of', type: { namespace, name } }, where);
  }

  #check(v, vo, where, generics, errors) {
    switch (vo.kind) {
      case 'instance_of':
        return this.#checkInstance(v, vo, where, generics, errors);
      case 'array_of':
        if (!Array.isArray(v)) return errors.push(`${where}: expected an array (${describeType(vo)}), got ${jsonKind(v)}`);
        v.forEach((item, i) => this.#check(item, vo.value, `${where}[${i}]`, generics, errors));
        return;
      case 'dictionary_of': {
        if (!isPlainObject(v)) return errors.push(`${where}: expected an object (${describeType(vo)}), got ${jsonKind(v)}`);
        const keys = Object.keys(v);
        if (vo.singleKey && keys.length !== 1) errors.push(`${where}: expected exactly one key, got ${keys.length} (${keys.join(', ')})`);
        for (const k of keys) {
          this.#check(k, vo.key, `${where} key ${JSON.stringify(k)}`, generics, errors);
          this.#check(v[k], vo.value, `${where}.${k}`, generics, errors);
        }
        return;
      }
      case 'union_of':
        return this.#checkUnion(v, vo.items, vo, where, generics, errors);
      case 'literal_value':
        if (v !== vo.value) errors.push(`${where}: expected ${JSON.stringify(vo.value)}, got ${JSON.stringify(v)}`);
        return;
      case 'user_defined_value':
        return;
      default:
        errors.push(`${where}: the validator does not know type kind ${vo.kind}`);
    }
  }

  #checkUnion(v, items, vo, where, generics, errors) {
    let best;
    for (const item of items) {
      const e = [];
      this.#check(v, item, where, generics, e);
      if (e.length === 0) return;
      if (!best || e.length < best.length) best = e;
    }
    errors.push(`${where}: ${JSON.stringify(v)?.slice(0, 80)} matches none of ${describeType(vo)}; closest: ${best.join('; ')}`);
  }

  #checkInstance(v, vo, where, generics, errors) {
    const k = keyOf(vo.type);
    if (vo.type.namespace === '_builtins') {
      const ok = {
        string: () => typeof v === 'string',
        boolean: () => typeof v === 'boolean',
        number: () => typeof v === 'number' && Number.isFinite(v),
        null: () => v === null,
        void: () => v === undefined,
        binary: () => true,
      }[vo.type.name];
      if (!ok) return errors.push(`${where}: unknown builtin ${k}`);
      if (!ok()) errors.push(`${where}: expected ${vo.type.name}, got ${jsonKind(v)} ${JSON.stringify(v)?.slice(0, 60)}`);
      return;
    }
    if (generics.has(k)) return this.#check(v, generics.get(k), where, generics, errors);
    if (INTEGER_TYPES.has(k)) {
      if (typeof v !== 'number' || !Number.isInteger(v)) errors.push(`${where}: expected an integer (${k}), got ${jsonKind(v)} ${JSON.stringify(v)?.slice(0, 60)}`);
      if (k === '_types.uint' || k === '_types.ulong') if (typeof v === 'number' && v < 0) errors.push(`${where}: expected a non-negative integer (${k}), got ${v}`);
      return;
    }
    const t = this.types.get(k);
    if (!t) {
      if (this.genericParams.has(k)) return; // an unbound generic parameter: anything
      return errors.push(`${where}: the specification has no type ${k}`);
    }
    let bound = generics;
    if (t.generics?.length && vo.generics?.length) {
      bound = new Map(generics);
      t.generics.forEach((g, i) => vo.generics[i] && bound.set(keyOf(g), vo.generics[i]));
    }
    switch (t.kind) {
      case 'type_alias':
        if (t.variants?.kind === 'internal_tag' && t.type.kind === 'union_of' && isPlainObject(v)) {
          return this.#checkTagged(v, t, where, bound, errors);
        }
        return this.#check(v, t.type, where, bound, errors);
      case 'enum': {
        const names = new Set();
        for (const m of t.members) {
          names.add(m.name);
          for (const a of m.aliases ?? []) names.add(a);
        }
        // Boolean-like enums (DynamicMapping: "true"/"false"/"strict") are sent as JSON booleans.
        const text = typeof v === 'string' ? v : typeof v === 'boolean' ? String(v) : undefined;
        if (text === undefined) return errors.push(`${where}: expected one of ${[...names].join('|')} (${k}), got ${jsonKind(v)}`);
        if (!names.has(text) && !t.isOpen) errors.push(`${where}: ${JSON.stringify(v)} is not one of ${[...names].join('|')} (${k})`);
        return;
      }
      case 'interface':
      case 'request':
      case 'response':
        return this.#checkObject(v, t, where, bound, errors);
      default:
        errors.push(`${where}: the validator does not know ${k} of kind ${t.kind}`);
    }
  }

  #checkTagged(v, alias, where, generics, errors) {
    const { tag, defaultTag } = alias.variants;
    const value = v[tag] ?? defaultTag;
    for (const item of alias.type.items) {
      if (item.kind !== 'instance_of') continue;
      const t = this.types.get(keyOf(item.type));
      if (t?.kind !== 'interface') continue;
      const p = this.resolve(t).properties.get(tag);
      if (p?.type.kind === 'literal_value' && p.type.value === value) return this.#check(v, item, where, generics, errors);
    }
    errors.push(`${where}.${tag}: ${JSON.stringify(value)} is none of the variants of ${keyOf(alias.name)}`);
  }

  #checkObject(v, t, where, generics, errors) {
    const r = this.resolve(t);
    if (!isPlainObject(v)) {
      if (r.shortcutProperty && r.properties.has(r.shortcutProperty)) {
        return this.#check(v, r.properties.get(r.shortcutProperty).type, where, generics, errors);
      }
      return errors.push(`${where}: expected an object (${r.name}), got ${jsonKind(v)}`);
    }
    const byName = new Map();
    for (const p of r.properties.values()) {
      byName.set(p.name, p);
      for (const a of p.aliases) byName.set(a, p);
    }
    if (r.container) {
      const variants = Object.keys(v).filter((key) => byName.has(key) && !byName.get(key).containerProperty);
      if (variants.length !== 1) {
        const all = [...r.properties.values()].filter((p) => !p.containerProperty).map((p) => p.name);
        errors.push(`${where}: ${r.name} takes exactly one of ${all.join(', ')}; got ${variants.length ? variants.join(', ') : 'none'}`);
      }
    }
    for (const name of r.required) {
      const p = r.properties.get(name);
      if (![p.name, ...p.aliases].some((n) => Object.hasOwn(v, n))) errors.push(`${where}: required property "${name}" of ${r.name} is missing`);
    }
    for (const [key, value] of Object.entries(v)) {
      const p = byName.get(key);
      if (!p) {
        if (!r.additionalProperties) errors.push(`${where}: unknown property "${key}": ${r.name} has ${[...r.properties.keys()].join(', ')}`);
        continue;
      }
      this.#check(value, p.type, `${where}.${key}`, generics, errors);
    }
  }
}
