// An Elasticsearch-compatible test server: the documented 8.x APIs iot-collector uses (bulk,
// index templates, ILM policies, data streams, count/search for verification) over HTTP/1.1
// or HTTPS with keep-alive, optional API key / basic authentication, and fault injection at
// the connection, request and document level. See README.md for the exact subset.
//
// Network design: a plain net.Server owns the listening socket and every accepted TCP socket,
// and hands each socket to an http/https.Server that never listens itself. Owning the raw
// sockets is what lets us count connections, reset them with a real TCP RST (not a polite
// FIN), refuse connections by closing only the listener, and restart on the same port while
// the data (in Store) stays.
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Faults } from './faults.mjs';
import { EsError, EsPlainError, decodeBody, negotiate, readBody, sendJson, sendRaw } from './http.mjs';
import { route } from './routes.mjs';
import { Store } from './store.mjs';
import { checkAuth } from './auth.mjs';

const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  tls: undefined,
  auth: undefined,
  clusterName: 'elasticsearch-test-server',
  nodeName: 'es-test-node-0',
  maxContentLength: 100 * 1024 * 1024, // http.max_content_length
  // Elasticsearch does not close idle HTTP connections by default; 0 = never.
  keepAliveTimeoutMs: 0,
  // http.compression: on by default, off by default when TLS is on.
  compression: undefined,
  // indices.id_field_data.enabled (false in 8.x): terms aggregations on _id.
  allowIdFieldData: false,
  keepSources: true, // false: store only _id and metadata (long benchmarks)
  logBodies: true, // false: request log entries have body null (long benchmarks)
  requestLogLimit: 10000, // oldest entries are dropped beyond this
};

// The raw TCP socket under an http (itself) or https (TLSSocket._parent) request socket.
function rawSocketOf(socket) {
  return socket?._parent ?? socket;
}

// Connection reset: RST instead of FIN, so the client sees ECONNRESET.
function hardReset(socket) {
  const raw = rawSocketOf(socket);
  try {
    raw.resetAndDestroy();
  } catch {
    raw.destroy();
  }
  if (socket !== raw) socket.destroy();
}

function redactHeaders(headers) {
  const out = { ...headers };
  if (out.authorization !== undefined) out.authorization = String(out.authorization).split(' ')[0];
  return out;
}

export async function startElasticTestServer(options = {}) {
  const opts = { ...DEFAULTS, ...options };
  if (opts.compression === undefined) opts.compression = !opts.tls;
  const store = new Store({ keepSources: opts.keepSources });
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const requests = [];
  let requestSeq = 0;

  // ---- network layer ------------------------------------------------------------------------
  const sockets = new Map(); // raw socket -> {id, active (requests in flight)}
  let connectionsOpened = 0;
  let downMode = null; // null | 'reset' | 'refused'
  let port = opts.port;
  let listening = false;
  const timers = new Set(); // pending fault delays, cleared by stop()

  const app = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert, ca: opts.tls.ca }) : http.createServer();
  app.keepAliveTimeout = opts.keepAliveTimeoutMs;
  app.on('clientError', (_err, socket) => socket.destroy());
  app.on('tlsClientError', (_err, socket) => socket.destroy());

  const front = net.createServer((socket) => {
    socket.on('error', () => {}); // clients resetting connections is part of the tests
    connectionsOpened += 1;
    if (downMode === 'reset') {
      hardReset(socket);
      events.emit('change');
      return;
    }
    const state = { id: connectionsOpened, active: 0 };
    sockets.set(socket, state);
    socket.on('close', () => {
      sockets.delete(socket);
      events.emit('change');
    });
    app.emit('connection', socket);
    events.emit('change');
  });

  function listen() {
    return new Promise((resolve, reject) => {
      const onError = (err) => reject(err);
      front.once('error', onError);
      front.listen(port, opts.host, () => {
        front.off('error', onError);
        port = front.address().port;
        listening = true;
        resolve();
      });
    });
  }

  function closeListener() {
    const resetAll = () => {
      for (const s of sockets.keys()) hardReset(s);
      sockets.clear();
    };
    if (!listening) {
      resetAll();
      return Promise.resolve();
    }
    listening = false;
    return new Promise((resolve) => {
      front.close(() => resolve());
      resetAll();
    });
  }

  const network = {
    async down(mode = 'reset') {
      if (mode !== 'reset' && mode !== 'refused') throw new TypeError(`down mode must be 'reset' or 'refused', got ${mode}`);
      downMode = mode;
      if (mode === 'refused') await closeListener();
      else for (const s of sockets.keys()) hardReset(s);
    },
    async up() {
      const wasRefused = downMode === 'refused';
      downMode = null;
      if (wasRefused && !listening) await listen();
    },
    closeIdleConnections() {
      for (const [s, st] of sockets) if (st.active === 0) s.destroy();
    },
  };
  const faults = new Faults(network);

  // ---- request pipeline ---------------------------------------------------------------------
  app.on('request', (req, res) => {
    handle(req, res).catch((err) => {
      // A bug in the server itself: answer 500 rather than hanging the client.
      console.error('elastic-test-server: internal error:', err);
      if (!res.headersSent) sendJson(res, {}, 500, { error: { root_cause: [], type: 'exception', reason: String(err?.message ?? err) }, status: 500 });
    });
  });

  function delayFor(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve(true);
      }, ms);
      timers.add(t);
      t.resolveEarly = resolve;
    });
  }

  async function handle(req, res) {
    const socketState = sockets.get(rawSocketOf(req.socket));
    if (socketState) {
      socketState.active += 1;
      res.on('close', () => (socketState.active -= 1));
    }
    const url = new URL(req.url, 'http://localhost');
    const entry = {
      seq: ++requestSeq,
      time: new Date().toISOString(),
      method: req.method,
      path: url.pathname,
      url: req.url,
      query: Object.fromEntries(url.searchParams),
      headers: redactHeaders(req.headers),
      body: null,
      status: null,
      reset: false,
      connection: socketState?.id ?? null,
    };
    const ctxOut = { query: url.searchParams, acceptEncoding: req.headers['accept-encoding'], compress: opts.compression, responseType: 'application/json' };
    const finish = (status) => {
      entry.status = status;
      events.emit('request', entry);
      events.emit('change');
    };
    const answerError = (err) => {
      if (err instanceof EsError || err instanceof EsPlainError) {
        return finish(sendJson(res, ctxOut, err.status, err.body(), err.headers));
      }
      throw err;
    };

    let text = '';
    try {
      const raw = await readBody(req, opts.maxContentLength);
      text = decodeBody(raw, req.headers['content-encoding'], opts.maxContentLength).toString('utf8');
    } catch (err) {
      pushEntry(entry);
      if (err instanceof EsPlainError && err.status === 413) return finish(sendRaw(res, 413, '', { 'X-Elastic-Product': 'Elasticsearch' }));
      if (err instanceof EsError) return answerError(err);
      // The client went away mid-body: nothing to answer.
      entry.reset = true;
      return finish(null);
    }
    if (opts.logBodies) entry.body = text;
    pushEntry(entry);

    const ms = faults.takeDelay({ method: req.method, path: url.pathname });
    if (ms > 0) {
      const completed = await delayFor(ms);
      if (!completed) return finish(null); // server stopped meanwhile
    }

    try {
      checkAuth(opts.auth, req.headers.authorization, url.pathname);
      const { bodyKind, responseType } = negotiate(req.headers, text.length > 0);
      ctxOut.responseType = responseType;
      const { handler, params } = route(req.method, url.pathname);
      let parsed;
      const ctx = {
        method: req.method,
        params,
        query: url.searchParams,
        text,
        bodyKind,
        store,
        faults,
        options: opts,
        json() {
          if (parsed !== undefined) return parsed;
          try {
            parsed = JSON.parse(text);
          } catch (err) {
            throw new EsError(400, 'x_content_parse_exception', `[1:1] ${err.message}`);
          }
          return parsed;
        },
      };
      const result = handler(ctx);
      if (result.reset) {
        entry.reset = true;
        hardReset(req.socket);
        return finish(null);
      }
      if (result.raw) {
        const r = result.raw;
        const headers = { 'Content-Type': r.contentType, ...r.headers };
        if (r.product) headers['X-Elastic-Product'] = 'Elasticsearch';
        const body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
        return finish(sendRaw(res, r.status, body, headers));
      }
      return finish(sendJson(res, ctxOut, result.status, result.body, result.headers));
    } catch (err) {
      return answerError(err);
    }
  }

  function pushEntry(entry) {
    requests.push(entry);
    if (requests.length > opts.requestLogLimit) requests.splice(0, requests.length - opts.requestLogLimit);
  }

  await listen();

  // ---- controller -----------------------------------------------------------------------------
  const scheme = opts.tls ? 'https' : 'http';
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;

  const controller = {
    get url() {
      return `${scheme}://${hostForUrl}:${port}`;
    },
    get port() {
      return port;
    },
    faults,
    get connectionsOpened() {
      return connectionsOpened;
    },
    get openConnections() {
      return sockets.size;
    },
    // Every request answered (or reset) so far, oldest first (see README for the fields).
    get requests() {
      return requests;
    },
    // Bodies of PUT _index_template/<name> and PUT _ilm/policy/<name>, as sent, by name.
    get templates() {
      return store.templates;
    },
    get policies() {
      return store.policies;
    },
    get dataStreams() {
      return store.dataStreams;
    },
    store,
    documents(index) {
      return store.documents(index);
    },
    allDocuments() {
      return store.allDocuments();
    },
    async setDown(down, mode = 'reset') {
      return down ? network.down(mode) : network.up();
    },
    // Elasticsearch down then back up: every connection is reset and the port refuses
    // connections until it listens again on the same port. The data stays.
    async restart() {
      downMode = null;
      await closeListener();
      await listen();
    },
    async stop() {
      downMode = null;
      for (const t of timers) {
        clearTimeout(t);
        t.resolveEarly(false);
      }
      timers.clear();
      await closeListener();
    },
    // Forget everything: documents, templates, policies, the request log, faults, counters.
    reset() {
      store.clear();
      faults.clear();
      requests.length = 0;
      connectionsOpened = 0;
    },
    // Resolves when predicate() is truthy, re-checked after every request and connection;
    // rejects after timeoutMs. For bounded waits instead of sleeps.
    waitFor(predicate, { timeoutMs = 5000, message } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          let v;
          try {
            v = predicate();
          } catch (err) {
            cleanup();
            reject(err);
            return;
          }
          if (v) {
            cleanup();
            resolve(v);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(message ?? `waitFor: condition not met within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          events.off('change', check);
        };
        events.on('change', check);
        check();
      });
    },
    waitForDocuments(index, n, { timeoutMs = 5000 } = {}) {
      return controller.waitFor(() => store.documents(index).length >= n && store.documents(index), {
        timeoutMs,
        message: `waitForDocuments: ${index} has ${store.documents(index).length} documents, wanted ${n}, after ${timeoutMs} ms`,
      });
    },
    on(event, listener) {
      events.on(event, listener);
      return controller;
    },
    off(event, listener) {
      events.off(event, listener);
      return controller;
    },
  };
  return controller;
}
