// Helpers for the Elasticsearch sink tests: the in-process Elasticsearch test server, a collector
// pointed at it, a raw CoAP "device" that sees every message of its exchanges (empty ACK,
// separate CON response, retransmissions), and checks of what the server holds.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { startElasticTestServer } from '../../elastic-test-server/server.mjs';
import { Collector, waitFor } from './collector.mjs';
import { Type, Option, encode, request as rawRequest, describe as describeMessage, decode } from './coap.mjs';
import { httpGet, scrape, metricValue } from './admin.mjs';

export const STREAM = 'iot-events';
export const DLQ = 'iot-events-dlq';

const servers = new Set();
const collectors = new Set();

/** Start an Elasticsearch test server (stopped by cleanupElastic()). */
export async function startEs(options = {}) {
  const es = await startElasticTestServer(options);
  servers.add(es);
  return es;
}

/**
 * Start the collector against `es` (no --sink). Waits for "ready"; with waitBootstrap (default)
 * also for "elasticsearch bootstrap complete".
 */
export async function startEsCollector(es, { args = [], waitBootstrap = true, url = es.url, env = {} } = {}) {
  const c = await Collector.start({
    standardFlags: false,
    env,
    args: [
      '--listen', '127.0.0.1:0',
      '--admin-listen', '127.0.0.1:0',
      '--log-format', 'json',
      '--threads', '2',
      '--elasticsearch-url', url,
      ...args,
    ],
  });
  collectors.add(c);
  if (waitBootstrap) await waitBootstrapped(c);
  return c;
}

export async function waitBootstrapped(c, timeoutMs = 10_000) {
  const r = await waitFor(() => c.logsWith('elasticsearch bootstrap complete').length > 0 || (c.exited ? 'exited' : null), {
    timeoutMs,
    what: '"elasticsearch bootstrap complete"',
  }).catch((e) => {
    throw new Error(`${e.message}\nstderr:\n${c.stderr}`);
  });
  if (r === 'exited') throw new Error(`collector exited before bootstrap: ${JSON.stringify(c.exited)}\n${c.stderr}`);
}

/** Kill every collector and stop every server these helpers started. */
export async function cleanupElastic() {
  for (const c of collectors) await c.kill();
  collectors.clear();
  for (const es of servers) await es.stop().catch(() => {});
  servers.clear();
}

export async function readyz(c) {
  return (await httpGet(c.adminUrl('/readyz'), { timeoutMs: 2000 })).status;
}

export async function metrics(c) {
  return (await scrape(c)).samples;
}

/** iot_elasticsearch_documents_total{outcome} summed over workers (0 when absent). */
export function outcome(samples, name) {
  return metricValue(samples, 'iot_elasticsearch_documents_total', { outcome: name }) ?? 0;
}

export function metric(samples, name, labels = {}) {
  return metricValue(samples, name, labels) ?? 0;
}

// ---- what the server holds ---------------------------------------------------------------------

/** Documents of `stream` whose _source.sender is `sender`. */
export function docsOf(es, sender, stream = STREAM) {
  return es.documents(stream).filter((d) => d._source?.sender === sender);
}

/** Map sender -> number of documents in `stream`. */
export function senderCounts(es, stream = STREAM) {
  const m = new Map();
  for (const d of es.documents(stream)) {
    const s = d._source?.sender;
    m.set(s, (m.get(s) ?? 0) + 1);
  }
  return m;
}

/** Each event is in `stream` exactly once, with its payload. */
export function assertExactlyOnce(es, events, stream = STREAM, what = '') {
  const counts = senderCounts(es, stream);
  const bad = events.filter((e) => counts.get(e.sender) !== 1).map((e) => `${e.sender}: ${counts.get(e.sender) ?? 0}`);
  assert.deepEqual(bad, [], `${what}events not stored exactly once in ${stream} (sender: count)`);
  for (const e of events) {
    const [d] = docsOf(es, e.sender, stream);
    assert.deepEqual(d._source.payload, e.payload, `payload of ${e.sender}`);
  }
}

/** No two documents share an _id or an event (sender). */
export function assertNoDuplicates(es, stream = STREAM) {
  const docs = es.documents(stream);
  const ids = new Set(docs.map((d) => d._id));
  assert.equal(ids.size, docs.length, `${docs.length - ids.size} duplicate _id(s) in ${stream}`);
  const dup = [...senderCounts(es, stream)].filter(([, n]) => n > 1);
  assert.deepEqual(dup, [], `events stored more than once in ${stream}`);
}

/** Every bulk item the server received: [{seq, status, reset, action, op, meta, sourceLine, source}]. */
export function bulkItems(es) {
  const items = [];
  for (const r of es.requests) {
    if (!r.path.endsWith('/_bulk') || typeof r.body !== 'string') continue;
    const lines = r.body.split('\n').filter((l) => l !== '');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const action = JSON.parse(lines[i]);
      const op = Object.keys(action)[0];
      let source;
      try {
        source = JSON.parse(lines[i + 1]);
      } catch {
        source = undefined;
      }
      items.push({ seq: r.seq, status: r.status, reset: r.reset, action, op, meta: action[op], sourceLine: lines[i + 1], source });
    }
  }
  return items;
}

/** Bulk items for the event from `sender` (into the main stream). */
export function bulkItemsFor(es, sender) {
  return bulkItems(es).filter((it) => it.source?.sender === sender);
}

export const isBulk = ({ path }) => path.endsWith('/_bulk');

// ---- a raw CoAP device ---------------------------------------------------------------------------

let tokenSeq = Math.floor(Math.random() * 0xffffff);

/**
 * One UDP socket sending POST /events requests with distinct message ids and tokens, ACKing
 * separate CON responses, and retransmitting CON requests (RFC 7252 4.2: initial timeout
 * `ackTimeoutMs`, doubled, at most `maxRetransmit` times) until an ACK or a response arrives.
 * Every exchange records all messages in order and its final answer.
 */
export class RawDevice {
  static async open(target, opts = {}) {
    const d = new RawDevice(target, opts);
    d.socket.bind(0, '127.0.0.1');
    await once(d.socket, 'listening');
    return d;
  }

  constructor(target, { ackTimeoutMs = 2000, maxRetransmit = 4 } = {}) {
    this.target = target; // {host, port}
    this.ackTimeoutMs = ackTimeoutMs;
    this.maxRetransmit = maxRetransmit;
    this.socket = dgram.createSocket('udp4');
    this.socket.on('error', () => {});
    this.socket.on('message', (buf) => this._onMessage(buf));
    this.nextMid = Math.floor(Math.random() * 0x10000);
    this.byMid = new Map();
    this.byToken = new Map();
    this.exchanges = [];
    this.closed = false;
  }

  /**
   * Send one POST /events. onAnswer(answer, exchange) runs synchronously when the final answer
   * arrives (so a test can look at the server at exactly that moment).
   */
  post(payload, { confirmable = true, onAnswer, contentFormat = 50 } = {}) {
    const mid = this.nextMid;
    this.nextMid = (this.nextMid + 1) & 0xffff;
    tokenSeq = (tokenSeq + 1) >>> 0;
    const token = Buffer.alloc(8);
    token.writeUInt32BE(tokenSeq, 0);
    token.writeUInt32BE(Math.floor(Math.random() * 0xffffffff), 4);
    const buf = rawRequest({ type: confirmable ? Type.CON : Type.NON, method: 'POST', path: '/events', messageId: mid, token, contentFormat, payload });
    const ex = {
      mid,
      token,
      confirmable,
      sentAt: Date.now(),
      transmissions: 1,
      messages: [],
      acked: false,
      emptyAck: false,
      answer: null,
      duplicateAnswers: 0,
      onAnswer,
    };
    ex.done = new Promise((resolve) => (ex.resolve = resolve));
    this.byMid.set(mid, ex);
    this.byToken.set(token.toString('hex'), ex);
    this.exchanges.push(ex);
    this._send(buf);
    if (confirmable) this._armRetransmit(ex, buf, this.ackTimeoutMs);
    return ex;
  }

  _armRetransmit(ex, buf, timeout) {
    ex.timer = setTimeout(() => {
      if (this.closed || ex.acked || ex.answer) return;
      if (ex.transmissions > this.maxRetransmit) return;
      ex.transmissions += 1;
      this._send(buf);
      this._armRetransmit(ex, buf, timeout * 2);
    }, timeout);
  }

  _send(buf) {
    if (this.closed) return;
    this.socket.send(buf, this.target.port, this.target.host, () => {});
  }

  _onMessage(buf) {
    let m;
    try {
      m = decode(buf);
    } catch {
      return;
    }
    const at = Date.now();
    if (m.type === Type.ACK || m.type === Type.RST) {
      const ex = this.byMid.get(m.messageId);
      if (!ex) return;
      ex.messages.push({ at, ...describeMessage(m) });
      ex.acked = true;
      clearTimeout(ex.timer);
      if (m.type === Type.RST) return this._finish(ex, m, at);
      if (m.code === 0) ex.emptyAck = true;
      else this._finish(ex, m, at);
      return;
    }
    // CON or NON response (separate response), matched by token.
    if (m.type === Type.CON) this._send(encode({ type: Type.ACK, code: 0, messageId: m.messageId }));
    const ex = this.byToken.get(m.token.toString('hex'));
    if (!ex) return;
    ex.messages.push({ at, ...describeMessage(m) });
    if (m.code >> 5 >= 2) this._finish(ex, m, at);
  }

  _finish(ex, m, at) {
    if (ex.answer) {
      ex.duplicateAnswers += 1;
      return;
    }
    clearTimeout(ex.timer);
    ex.answer = {
      code: m.type === Type.RST ? 'RST' : m.codeString,
      type: m.typeName,
      text: m.payload.toString('utf8'),
      maxAge: m.uintOption(Option.MAX_AGE),
      hasMaxAge: m.option(Option.MAX_AGE) !== undefined,
      at,
      messageId: m.messageId,
      token: m.token.toString('hex'),
    };
    try {
      ex.onAnswer?.(ex.answer, ex);
    } catch (e) {
      ex.onAnswerError = e;
    }
    ex.resolve(ex.answer);
  }

  close() {
    this.closed = true;
    for (const ex of this.exchanges) {
      clearTimeout(ex.timer);
      ex.resolve(ex.answer);
    }
    try {
      this.socket.close();
    } catch {
      /* closed */
    }
  }
}

/** Await an exchange's answer with a deadline. */
export async function answerOf(ex, timeoutMs = 10_000, what = 'the answer') {
  let timer;
  try {
    return await Promise.race([
      ex.done,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no final answer within ${timeoutMs} ms for ${what}; messages: ${JSON.stringify(ex.messages)}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
