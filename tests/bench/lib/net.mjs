// Network helpers: free ports, a hand-built CoAP GET, and HTTP polling, all bounded.
import dgram from 'node:dgram';
import net from 'node:net';
import http from 'node:http';
import { once } from 'node:events';

/** A UDP socket bound to `port` on 127.0.0.1 (0: any free one), or null when the port is in use. */
function bindUdp(port) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(null);
    });
    s.bind(port, '127.0.0.1', () => resolve(s));
  });
}

const closeUdp = (s) => new Promise((r) => s.close(r));

/** A free UDP port on 127.0.0.1 (bound, read, released: the servers need a number up front). */
export async function freeUdpPort() {
  const s = await bindUdp(0);
  const { port } = s.address();
  await closeUdp(s);
  return port;
}

/**
 * A free UDP port P on 127.0.0.1 whose P + 1 is free too, for servers that take a second port next
 * to the first (libcoap's DTLS port is its -p port + 1). Both are bound at once, so they are free
 * together when read; a P + 1 in use means another P, at most `tries` times.
 */
export async function freeUdpPortPair(tries = 50) {
  for (let i = 0; i < tries; ++i) {
    const first = await bindUdp(0);
    const { port } = first.address();
    const second = port < 65535 ? await bindUdp(port + 1) : null;
    await closeUdp(first);
    if (second) {
      await closeUdp(second);
      return port;
    }
  }
  throw new Error(`no two adjacent free UDP ports on 127.0.0.1 in ${tries} tries`);
}

export async function freeTcpPort() {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** A confirmable CoAP GET for /<path> (RFC 7252 §3): no token, one Uri-Path option. */
export function coapGet(path, messageId) {
  const segment = Buffer.from(path);
  if (segment.length > 12) throw new Error('coapGet: path segment too long for the short option form');
  return Buffer.concat([Buffer.from([0x40, 0x01, messageId >> 8, messageId & 0xff, (11 << 4) | segment.length]), segment]);
}

export const coapCode = (datagram) => `${datagram[1] >> 5}.${String(datagram[1] & 0x1f).padStart(2, '0')}`;

/**
 * Send GET /health every `everyMs` until the first answer from port; resolves with
 * {ms (from `since`), code}. Rejects after timeoutMs or if `alive()` turns false.
 */
export function firstCoapAnswer(port, { since = performance.now(), everyMs = 1, timeoutMs = 10000, alive = () => true, path = 'health' } = {}) {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    let id = 1;
    const finish = (err, value) => {
      clearInterval(timer);
      clearTimeout(deadline);
      socket.close();
      err ? reject(err) : resolve(value);
    };
    socket.on('message', (m) => finish(null, { ms: performance.now() - since, code: coapCode(m) }));
    socket.on('error', () => {}); // ICMP port unreachable before the server binds: keep polling
    const timer = setInterval(() => {
      if (!alive()) return finish(new Error(`no CoAP answer on port ${port}: the server exited`));
      socket.send(coapGet(path, id++ & 0xffff), port, '127.0.0.1');
    }, everyMs);
    const deadline = setTimeout(() => finish(new Error(`no CoAP answer on port ${port} within ${timeoutMs} ms`)), timeoutMs);
  });
}

/** GET http://127.0.0.1:port/path → {status, body}; bounded by timeoutMs. */
export function httpGet(port, path, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Poll GET path every `everyMs` until it answers 200; rejects after timeoutMs or when !alive(). */
export async function waitForHttp200(port, path, { timeoutMs = 30000, everyMs = 10, alive = () => true } = {}) {
  const end = performance.now() + timeoutMs;
  let last = 'no answer';
  while (performance.now() < end) {
    if (!alive()) throw new Error(`${path} on port ${port}: the server exited`);
    try {
      const r = await httpGet(port, path, 1000);
      if (r.status === 200) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${path} on port ${port} not 200 within ${timeoutMs} ms (last: ${last})`);
}
