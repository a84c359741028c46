// Thin promise wrapper around the npm `coap` client (node-coap), one Agent per request so that
// no socket outlives the test.
import coap from 'coap';

/**
 * @param {object} o
 * @param {string} o.host
 * @param {number} o.port
 * @param {string} [o.method]
 * @param {string} [o.path]
 * @param {string|Buffer} [o.payload]
 * @param {string|number|Buffer} [o.contentFormat] e.g. 'application/json'; a Buffer sets raw bytes
 * @param {boolean} [o.confirmable]
 * @param {number} [o.block1Szx] 0..6: upload with Block1 blocks of 2^(szx+4) bytes
 * @param {number} [o.timeoutMs]
 * @returns {Promise<{code:string, payload:Buffer, headers:object, options:object[], type:string}>}
 */
export function npmCoapRequest({ host, port, method = 'GET', path = '/', payload, contentFormat, confirmable = true, block1Szx, timeoutMs = 10_000 }) {
  return new Promise((resolve, reject) => {
    const agent = new coap.Agent({ type: host.includes(':') ? 'udp6' : 'udp4' });
    let done = false;
    const finish = (err, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // After a response the agent closes its socket by itself; close it only on failure.
      if (err) {
        try {
          agent.close(() => {});
        } catch {
          /* already closing */
        }
      }
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`npm coap: no response to ${method} ${path} within ${timeoutMs} ms`)), timeoutMs);
    const req = coap.request({ hostname: host, port, method, pathname: path, confirmable, agent, retrySend: 2 });
    if (contentFormat !== undefined) {
      const v = typeof contentFormat === 'number' ? contentFormatBytes(contentFormat) : contentFormat;
      req.setOption('Content-Format', v);
    }
    if (block1Szx !== undefined) req.setOption('Block1', Buffer.of(block1Szx));
    req.on('response', (res) => {
      const p = res._packet ?? {};
      const type = p.ack ? 'ACK' : p.reset ? 'RST' : p.confirmable ? 'CON' : 'NON';
      finish(null, { code: res.code, payload: res.payload ?? Buffer.alloc(0), headers: res.headers, options: res.options ?? [], type });
    });
    req.on('error', (e) => finish(e));
    req.on('timeout', (e) => finish(e));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

function contentFormatBytes(n) {
  if (n === 0) return Buffer.alloc(0);
  const bytes = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n >>= 8;
  }
  return Buffer.from(bytes);
}

/** Numeric value of a uint option in a node-coap response, by name or number. */
export function responseOption(res, name) {
  const o = res.options.find((x) => x.name === name || String(x.name) === String(name));
  if (!o) return undefined;
  if (typeof o.value === 'number') return o.value;
  if (Buffer.isBuffer(o.value)) {
    let v = 0;
    for (const b of o.value) v = v * 256 + b;
    return v;
  }
  return o.value;
}
