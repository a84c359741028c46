// Event builders and checks of what the file sink holds.
import assert from 'node:assert/strict';

let seq = 0;

/** A valid event; a unique sender makes every event findable in the sink. */
export function makeEvent(overrides = {}) {
  seq += 1;
  return {
    namespace: 'default',
    sender: `dev-${process.pid}-${seq}`,
    origin: 'probe1',
    payload: { type: 'temperature', value: 21.5 },
    timestamp: '2026-11-22T10:00:00.000Z',
    ...overrides,
  };
}

export function makeBatch(n, overrides = {}) {
  return Array.from({ length: n }, () => makeEvent(overrides));
}

/** Remove keys whose value is undefined (to build events lacking a field). */
export function without(event, ...keys) {
  const e = { ...event };
  for (const k of keys) delete e[k];
  return e;
}

const RFC3339_UTC_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i;

/** Expected @timestamp for a device timestamp (string RFC 3339 or epoch ms number). */
export function expectedAtTimestamp(ts) {
  const d = typeof ts === 'number' ? new Date(ts) : new Date(ts);
  assert.ok(!Number.isNaN(d.getTime()), `test bug: cannot parse ${ts}`);
  return d.toISOString();
}

/**
 * Check one bulk pair from the sink against the event that was sent.
 * @param {{action:object, doc:object}} pair
 * @param {object} sent the event as posted
 * @param {{from:number, to:number}} window wall-clock window (ms) in which the request was made
 */
export function assertStoredPair(pair, sent, window, { collector = 'it-1', index = 'iot-events' } = {}) {
  const { action, doc } = pair;
  assert.deepEqual(Object.keys(action), ['create'], `action line must be {"create":{...}}: ${pair.actionLine}`);
  assert.equal(action.create._index, index, `_index: ${pair.actionLine}`);
  assert.match(action.create._id, /^[0-9a-f]{32}$/, `_id must be 32 lowercase hex: ${pair.actionLine}`);

  assert.equal(doc.namespace, sent.namespace ?? 'default', `namespace in ${pair.docLine}`);
  assert.equal(doc.sender, sent.sender, `sender in ${pair.docLine}`);
  assert.equal(doc.origin, sent.origin, `origin in ${pair.docLine}`);
  assert.deepEqual(doc.payload, sent.payload, `payload in ${pair.docLine}`);
  assert.equal(doc.collector, collector, `collector in ${pair.docLine}`);

  assert.equal(typeof doc.received_at, 'string', `received_at in ${pair.docLine}`);
  assert.match(doc.received_at, RFC3339, `received_at must be RFC 3339: ${pair.docLine}`);
  const received = Date.parse(doc.received_at);
  if (window) {
    assert.ok(received >= window.from - 2000 && received <= window.to + 2000, `received_at ${doc.received_at} outside the request window [${new Date(window.from).toISOString()}, ${new Date(window.to).toISOString()}]`);
  }

  assert.equal(typeof doc['@timestamp'], 'string', `@timestamp in ${pair.docLine}`);
  assert.match(doc['@timestamp'], RFC3339_UTC_MS, `@timestamp must be RFC 3339 UTC with milliseconds: ${pair.docLine}`);
  if (sent.timestamp !== undefined) {
    assert.ok('timestamp' in doc, `device timestamp must be kept: ${pair.docLine}`);
    // The contract does not say whether "timestamp" is kept verbatim or normalised: require the
    // same instant, in a form Elasticsearch can read.
    const kept = typeof doc.timestamp === 'number' ? doc.timestamp : Date.parse(doc.timestamp);
    assert.equal(kept, new Date(sent.timestamp).getTime(), `"timestamp" must be the instant sent (${JSON.stringify(sent.timestamp)}): ${pair.docLine}`);
    assert.equal(doc['@timestamp'], expectedAtTimestamp(sent.timestamp), `@timestamp for timestamp ${JSON.stringify(sent.timestamp)}: ${pair.docLine}`);
  } else {
    assert.ok(!('timestamp' in doc), `no "timestamp" field when the device sent none: ${pair.docLine}`);
    const at = Date.parse(doc['@timestamp']);
    if (window) {
      assert.ok(at >= window.from - 2000 && at <= window.to + 2000, `@timestamp ${doc['@timestamp']} of an event without timestamp should be the receive time`);
    }
  }
  // payload.value copied where the index template makes it chartable (numbers) or searchable.
  const value = sent.payload?.value;
  if (typeof value === 'number') assert.equal(doc.value_number, value, `value_number in ${pair.docLine}`);
  else assert.ok(!('value_number' in doc), `value_number only for numbers: ${pair.docLine}`);
  if (typeof value === 'string' || typeof value === 'boolean') assert.equal(doc.value_text, String(value), `value_text in ${pair.docLine}`);
  else assert.ok(!('value_text' in doc), `value_text only for text and booleans: ${pair.docLine}`);
  const allowed = new Set(['@timestamp', 'namespace', 'sender', 'origin', 'payload', 'value_number', 'value_text', 'timestamp', 'received_at', 'collector']);
  for (const k of Object.keys(doc)) assert.ok(allowed.has(k), `unexpected field ${k} in ${pair.docLine}`);
}

/**
 * Check that pairs are exactly the events sent (matched by their unique sender; order within
 * a batch is not part of the contract), with distinct _ids.
 */
export function assertStored(pairs, sentEvents, window, opts) {
  assert.equal(pairs.length, sentEvents.length, `expected ${sentEvents.length} stored events, found ${pairs.length}: ${JSON.stringify(pairs.map((p) => p.doc))}`);
  const bySender = new Map(pairs.map((p) => [p.doc?.sender, p]));
  for (const e of sentEvents) {
    const p = bySender.get(e.sender);
    assert.ok(p, `event from ${e.sender} not found in the sink`);
    assertStoredPair(p, e, window, opts);
  }
  const ids = new Set(pairs.map((p) => p.action.create._id));
  assert.equal(ids.size, pairs.length, 'distinct events must have distinct _id');
}

/** Deeply nested payload.value object, depth levels below payload.value. */
export function nested(depth) {
  let v = 1;
  for (let i = 0; i < depth; i++) v = { n: v };
  return v;
}
