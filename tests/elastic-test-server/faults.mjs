// Fault injection. Each fault is a FIFO queue of rules with a remaining count that decrements
// as the rule is used, so a test says exactly how many requests (or documents) misbehave and
// everything after them is normal again. Faults are consumed in the order:
//   connection level (down) -> delay -> resetNext -> bulkStatus -> itemStatus (per document)
//   -> resetAfterStore
// and a rule is only consumed when it actually applies to a request.

// Default error bodies per status, shaped like what Elasticsearch (or, for 502/504, a proxy in
// front of it) really answers.
const REQUEST_ERRORS = {
  400: ['illegal_argument_exception', 'injected fault: bad request'],
  401: ['security_exception', 'injected fault: unable to authenticate'],
  403: ['security_exception', 'action [indices:data/write/bulk] is unauthorized'],
  404: ['index_not_found_exception', 'injected fault: no such index'],
  413: null,
  429: ['es_rejected_execution_exception', 'rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1024, max_coordinating_and_primary_bytes=1024]'],
  500: ['illegal_state_exception', 'injected fault: internal error'],
  503: ['cluster_block_exception', 'blocked by: [SERVICE_UNAVAILABLE/2/no master];'],
};

const ITEM_ERRORS = {
  400: ['document_parsing_exception', '[1:1] failed to parse: injected fault'],
  404: ['index_not_found_exception', 'no such index [injected]'],
  409: ['version_conflict_engine_exception', 'injected fault: version conflict'],
  429: ['es_rejected_execution_exception', 'rejected execution of primary operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, primary_operation_bytes=1024, max_coordinating_and_primary_bytes=1024]'],
  500: ['illegal_state_exception', 'injected fault: internal error'],
  503: ['unavailable_shards_exception', '[injected][0] primary shard is not active Timeout: [1m]'],
};

function timesOf(opts, fallback = 1) {
  const t = typeof opts === 'number' ? opts : opts?.times ?? fallback;
  if (!(Number.isInteger(t) && t > 0) && t !== Infinity) throw new TypeError(`times must be a positive integer or Infinity, got ${t}`);
  return t;
}

export class Faults {
  // `network` provides down(mode), up(), closeIdleConnections() from the server.
  constructor(network) {
    this.network = network;
    this.clear();
  }

  clear() {
    this._bulkStatus = [];
    this._itemStatus = [];
    this._delay = [];
    this._resetNext = [];
    this._resetAfterStore = [];
  }

  // The next `times` bulk requests get this whole-request HTTP status; nothing is stored.
  // opts: number (times) or {times, body, contentType, headers}: `body` (string or object)
  // replaces the default body. 502 and 504 default to a proxy's plain-text page without the
  // X-Elastic-Product header, since Elasticsearch itself never sends them.
  bulkStatus(status, opts = 1) {
    const o = typeof opts === 'object' ? opts : {};
    this._bulkStatus.push({ status, times: timesOf(opts), body: o.body, contentType: o.contentType, headers: o.headers ?? {} });
    return this;
  }

  // The next `times` documents (bulk items) for which `match(source, {action, index, id})`
  // returns true (all documents when no match) fail with this item status and are not stored;
  // other items of the same request are processed normally. opts: {times=1, match, type, reason}.
  itemStatus(status, opts = {}) {
    this._itemStatus.push({ status, times: timesOf(opts), match: opts.match, type: opts.type, reason: opts.reason });
    return this;
  }

  // Delay the next `times` responses by `ms` (the request is processed after the delay, even
  // if the client has gone: Elasticsearch does not cancel a bulk when the client disconnects).
  // opts: number (times) or {times, match(req)} where req is {method, path}.
  delay(ms, opts = 1) {
    this._delay.push({ ms, times: timesOf(opts), match: typeof opts === 'object' ? opts.match : undefined });
    return this;
  }

  // Reset (TCP RST) the connection of the next `times` bulk requests after reading them;
  // nothing is stored.
  resetNext(times = 1) {
    this._resetNext.push({ times: timesOf(times) });
    return this;
  }

  // Process the next `times` bulk requests (documents stored), then reset the connection
  // instead of answering: the client cannot know the documents are stored, and its retry gets
  // 409 for each of them.
  resetAfterStore(times = 1) {
    this._resetAfterStore.push({ times: timesOf(times) });
    return this;
  }

  // 'reset': connections are accepted and reset at once; 'refused': the listener is closed.
  // Either way, established connections are reset.
  down(mode = 'reset') {
    return this.network.down(mode);
  }

  up() {
    return this.network.up();
  }

  // Close idle keep-alive connections now, as a load balancer's idle timeout does: the client's
  // next request on a pooled connection finds it closed.
  closeIdleConnections() {
    this.network.closeIdleConnections();
  }

  // What is still armed, for assertions ("every injected fault was used").
  pending() {
    const sum = (q) => q.reduce((n, r) => n + r.times, 0);
    return {
      bulkStatus: sum(this._bulkStatus),
      itemStatus: sum(this._itemStatus),
      delay: sum(this._delay),
      resetNext: sum(this._resetNext),
      resetAfterStore: sum(this._resetAfterStore),
    };
  }

  // ---- used by the server -----------------------------------------------------------------

  static _take(queue, predicate = () => true) {
    const i = queue.findIndex((r) => predicate(r));
    if (i < 0) return null;
    const rule = queue[i];
    rule.times -= 1;
    if (rule.times <= 0) queue.splice(i, 1);
    return rule;
  }

  takeDelay(req) {
    return Faults._take(this._delay, (r) => !r.match || r.match(req))?.ms ?? 0;
  }

  takeResetNext() {
    return Faults._take(this._resetNext) !== null;
  }

  takeResetAfterStore() {
    return Faults._take(this._resetAfterStore) !== null;
  }

  // Returns {status, body, contentType, headers} or null. body is an object (JSON) or string.
  takeBulkStatus() {
    const rule = Faults._take(this._bulkStatus);
    if (!rule) return null;
    const { status } = rule;
    if (rule.body !== undefined) {
      const isString = typeof rule.body === 'string';
      return { status, body: rule.body, contentType: rule.contentType ?? (isString ? 'text/plain' : 'application/json'), headers: rule.headers, product: !isString };
    }
    if (status === 502 || status === 504) {
      const text = status === 502 ? 'Bad Gateway' : 'Gateway Timeout';
      return { status, body: `<html><body><h1>${status} ${text}</h1></body></html>\n`, contentType: 'text/html', headers: rule.headers, product: false };
    }
    if (status === 413) return { status, body: '', contentType: 'text/plain', headers: rule.headers, product: true };
    const [type, reason] = REQUEST_ERRORS[status] ?? ['exception', `injected fault: status ${status}`];
    const cause = { type, reason };
    return { status, body: { error: { root_cause: [cause], ...cause }, status }, contentType: 'application/json', headers: rule.headers, product: true };
  }

  // Returns the item error {status, error:{type, reason}} or null.
  takeItemStatus(source, meta) {
    const rule = Faults._take(this._itemStatus, (r) => !r.match || safeMatch(r.match, source, meta));
    if (!rule) return null;
    const [type, reason] = ITEM_ERRORS[rule.status] ?? ['exception', `injected fault: status ${rule.status}`];
    return { status: rule.status, error: { type: rule.type ?? type, reason: rule.reason ?? reason } };
  }
}

function safeMatch(fn, source, meta) {
  try {
    return Boolean(fn(source, meta));
  } catch {
    return false;
  }
}
