// HTTP plumbing shared by every route: Elasticsearch-style errors, request body reading
// (size limit, gzip/deflate), media-type negotiation, and JSON answers with the headers a real
// Elasticsearch 8 sends (X-Elastic-Product, compatible-with content type, gzip, filter_path).
import zlib from 'node:zlib';

// An error answered as the usual object form:
// {"error":{"root_cause":[{type,reason}],type,reason,...},"status":N}
export class EsError extends Error {
  constructor(status, type, reason, extra = {}) {
    super(reason);
    this.status = status;
    this.type = type;
    this.reason = reason;
    this.extra = extra;
    this.headers = {};
  }
  body() {
    return errorBody(this.status, this.type, this.reason, this.extra);
  }
}

// Some errors are answered by Elasticsearch's REST layer itself as a bare string:
// {"error":"Content-Type header [text/plain] is not supported","status":406}
export class EsPlainError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
  body() {
    return { error: this.message, status: this.status };
  }
}

export function errorBody(status, type, reason, extra = {}) {
  const { caused_by: causedBy, ...rest } = extra;
  const cause = { type, reason, ...rest };
  const error = { root_cause: [cause], ...cause };
  if (causedBy) error.caused_by = causedBy;
  return { error, status };
}

// Shell-style wildcard match as Elasticsearch's Regex.simpleMatch: only `*`. Compiled patterns
// are kept (filter_path runs this for every key of every bulk item).
const compiledWildcards = new Map();
export function wildcardMatch(pattern, value) {
  if (!pattern.includes('*')) return pattern === value;
  if (pattern === '*') return true;
  let re = compiledWildcards.get(pattern);
  if (re === undefined) {
    re = new RegExp(
      '^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$',
    );
    if (compiledWildcards.size < 1000) compiledWildcards.set(pattern, re);
  }
  return re.test(value);
}

// Reads the whole body. Elasticsearch refuses bodies above http.max_content_length (100mb) with
// 413 before reading them; we check Content-Length up front and count bytes for chunked bodies.
export function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new EsPlainError(413, `request entity too large: ${declared} > ${limit} bytes`));
      return;
    }
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) reject(new EsPlainError(413, `request entity too large: more than ${limit} bytes`));
      else resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

// Elasticsearch decompresses gzip and deflate request bodies (http.compression); anything
// else it cannot read.
export function decodeBody(raw, contentEncoding, limit) {
  const enc = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (raw.length === 0 || enc === 'identity' || enc === '') return raw;
  try {
    if (enc === 'gzip' || enc === 'x-gzip') return zlib.gunzipSync(raw, { maxOutputLength: limit });
    if (enc === 'deflate') return zlib.inflateSync(raw, { maxOutputLength: limit });
  } catch (err) {
    throw new EsError(400, 'parse_exception', `failed to decompress request body (${enc}): ${err.message}`);
  }
  throw new EsError(400, 'parse_exception', `unsupported Content-Encoding [${contentEncoding}]`);
}

export function parseMediaType(value) {
  if (!value) return null;
  const [essence, ...params] = String(value).split(';');
  const [type, subtype] = essence.trim().toLowerCase().split('/');
  if (!type || !subtype) return { essence: essence.trim().toLowerCase(), params: {} };
  const out = { essence: `${type}/${subtype}`, params: {} };
  for (const p of params) {
    const [k, v] = p.split('=');
    if (k && v !== undefined) out.params[k.trim().toLowerCase()] = v.trim().replace(/^"|"$/g, '');
  }
  return out;
}

const CURRENT_MAJOR = 8;
const JSON_TYPES = new Set(['application/json', 'application/vnd.elasticsearch+json']);
const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/vnd.elasticsearch+x-ndjson']);

// Mirrors Elasticsearch's REST content negotiation:
// - a body needs a Content-Type; missing or unsupported -> 406 with a bare string error;
// - `compatible-with=N` (vnd.elasticsearch media types) must be 7 or 8, and Content-Type and
//   Accept must ask for the same version when there is a body -> else 400
//   media_type_header_exception;
// - the answer is application/json, or application/vnd.elasticsearch+json;compatible-with=N when
//   the client asked for it in Accept.
// Returns {bodyKind: 'json'|'ndjson'|null, responseType}.
export function negotiate(headers, hasBody) {
  const ct = parseMediaType(headers['content-type']);
  const accept = parseMediaType(headers['accept']);
  const versionOf = (mt) => {
    if (!mt || !mt.essence.startsWith('application/vnd.elasticsearch+')) return null;
    return mt.params['compatible-with'] ?? '';
  };
  const ctVersion = hasBody ? versionOf(ct) : null;
  const acceptVersion = versionOf(accept);
  const mediaError = (detail) => {
    const err = new EsError(
      400,
      'media_type_header_exception',
      'Invalid media-type value on headers [Content-Type, Accept]',
      { caused_by: { type: 'status_exception', reason: detail } },
    );
    return err;
  };
  for (const v of [ctVersion, acceptVersion]) {
    if (v !== null && v !== '7' && v !== '8') {
      throw mediaError(
        `A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match. Accept=${headers.accept ?? null}, Content-Type=${headers['content-type'] ?? null}`,
      );
    }
  }
  let bodyKind = null;
  if (hasBody) {
    if (!ct) throw new EsPlainError(406, 'Content-Type header is missing');
    if (JSON_TYPES.has(ct.essence)) bodyKind = 'json';
    else if (NDJSON_TYPES.has(ct.essence)) bodyKind = 'ndjson';
    else throw new EsPlainError(406, `Content-Type header [${headers['content-type']}] is not supported`);
    const a = acceptVersion ?? String(CURRENT_MAJOR);
    const c = ctVersion ?? String(CURRENT_MAJOR);
    if (a !== c) {
      throw mediaError(
        `A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match. Accept=${headers.accept ?? null}, Content-Type=${headers['content-type']}`,
      );
    }
  }
  const responseType = acceptVersion
    ? `application/vnd.elasticsearch+json;compatible-with=${acceptVersion}`
    : 'application/json';
  return { bodyKind, responseType };
}

// filter_path as Elasticsearch implements it: comma-separated dotted paths, `*` matches one key,
// `**` any depth; arrays are transparent; objects and arrays left empty are dropped.
export function applyFilterPath(value, filterPath) {
  if (!filterPath) return value;
  const patterns = filterPath
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => p.split('.'));
  if (patterns.length === 0) return value;
  const out = filterNode(value, patterns);
  return out === undefined ? {} : out;
}

function filterNode(node, patterns) {
  if (patterns.some((p) => p.length === 0)) return node; // a pattern ended here: keep everything
  if (Array.isArray(node)) {
    const kept = node.map((el) => filterNode(el, patterns)).filter((el) => el !== undefined);
    return kept.length ? kept : undefined;
  }
  if (node === null || typeof node !== 'object') return undefined;
  const out = {};
  for (const [key, child] of Object.entries(node)) {
    const next = [];
    for (const p of patterns) {
      const [head, ...rest] = p;
      if (head === '**') {
        next.push(p); // ** may swallow this key...
        if (rest.length && wildcardMatch(rest[0], key)) next.push(rest.slice(1)); // ...or stop here
      } else if (wildcardMatch(head, key)) {
        next.push(rest);
      }
    }
    if (next.length === 0) continue;
    const kept = filterNode(child, next);
    if (kept !== undefined) out[key] = kept;
  }
  return Object.keys(out).length ? out : undefined;
}

// Writes a JSON answer the way Elasticsearch does. `ctx` carries what negotiation decided and
// the request's query string (filter_path, pretty) and Accept-Encoding.
export function sendJson(res, ctx, status, obj, extraHeaders = {}) {
  let payload = obj;
  if (ctx.query?.get('filter_path')) payload = applyFilterPath(obj, ctx.query.get('filter_path'));
  const pretty = ctx.query?.has('pretty') && ctx.query.get('pretty') !== 'false';
  let body = Buffer.from(pretty ? JSON.stringify(payload, null, 2) + '\n' : JSON.stringify(payload));
  const headers = {
    'X-Elastic-Product': 'Elasticsearch',
    'Content-Type': ctx.responseType ?? 'application/json',
    ...extraHeaders,
  };
  if (ctx.compress && /\bgzip\b/i.test(ctx.acceptEncoding ?? '') && body.length > 0) {
    body = zlib.gzipSync(body);
    headers['Content-Encoding'] = 'gzip';
  }
  headers['Content-Length'] = body.length;
  res.writeHead(status, headers);
  res.end(body); // Node drops the body of HEAD answers itself
  return status;
}

// For faults that imitate something in front of Elasticsearch (a proxy's 502/504): a raw
// answer, not necessarily JSON and without the product header.
export function sendRaw(res, status, body, headers = {}) {
  const buf = Buffer.from(body ?? '');
  res.writeHead(status, { 'Content-Length': buf.length, ...headers });
  res.end(buf);
  return status;
}
