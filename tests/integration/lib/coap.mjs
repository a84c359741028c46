// Raw CoAP (RFC 7252) message encoding/decoding and a small UDP client for tests that need
// byte-level control: fixed message ids and tokens, duplicate datagrams, hand-made Block1
// exchanges, garbage input.
import dgram from 'node:dgram';
import { once } from 'node:events';

export const Type = Object.freeze({ CON: 0, NON: 1, ACK: 2, RST: 3 });
export const TypeName = ['CON', 'NON', 'ACK', 'RST'];

export const Option = Object.freeze({
  IF_MATCH: 1,
  URI_HOST: 3,
  ETAG: 4,
  URI_PORT: 7,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  URI_PATH: 11,
  URI_QUERY: 15,
  ACCEPT: 17,
  BLOCK2: 23,
  BLOCK1: 27,
  SIZE2: 28,
  SIZE1: 60,
});

export const ContentFormat = Object.freeze({ TEXT_PLAIN: 0, JSON: 50, CBOR: 60 });

/** "2.01" -> 65 */
export function codeFromString(s) {
  const m = /^(\d)\.(\d\d)$/.exec(s);
  if (!m) throw new Error(`bad CoAP code ${s}`);
  return (Number(m[1]) << 5) | Number(m[2]);
}

/** 65 -> "2.01" */
export function codeToString(c) {
  return `${c >> 5}.${String(c & 0x1f).padStart(2, '0')}`;
}

export const Method = Object.freeze({ GET: 1, POST: 2, PUT: 3, DELETE: 4, FETCH: 5, PATCH: 6, IPATCH: 7 });

/** Minimal big-endian unsigned encoding used for uint options (0 -> empty). */
export function encodeUint(n) {
  let v = BigInt(n);
  if (v < 0n) throw new Error('negative uint option');
  const bytes = [];
  while (v > 0n) {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return Buffer.from(bytes);
}

export function decodeUint(buf) {
  let v = 0;
  for (const b of buf) v = v * 256 + b;
  return v;
}

/** Block option value (RFC 7959 2.2): NUM | M | SZX, where size = 2^(SZX+4). */
export function encodeBlock({ num, more, size }) {
  const szx = Math.log2(size) - 4;
  if (!Number.isInteger(szx) || szx < 0 || szx > 6) throw new Error(`bad block size ${size}`);
  return encodeUint(num * 16 + (more ? 8 : 0) + szx);
}

export function decodeBlock(buf) {
  const v = decodeUint(buf);
  return { num: Math.floor(v / 16), more: (v & 8) !== 0, size: 1 << ((v & 7) + 4), szx: v & 7 };
}

function optionHeaderNibble(value) {
  if (value < 13) return { nibble: value, ext: Buffer.alloc(0) };
  if (value < 269) return { nibble: 13, ext: Buffer.from([value - 13]) };
  const ext = Buffer.alloc(2);
  ext.writeUInt16BE(value - 269);
  return { nibble: 14, ext };
}

/**
 * Encode a CoAP message.
 * @param {{type?:number, code:number|string, messageId:number, token?:Buffer,
 *          options?:Array<{number:number, value:Buffer|string|number}>, payload?:Buffer|string}} m
 */
export function encode(m) {
  const token = m.token ?? Buffer.alloc(0);
  if (token.length > 8) throw new Error('token too long');
  const code = typeof m.code === 'string' ? codeFromString(m.code) : m.code;
  const header = Buffer.alloc(4);
  header[0] = (1 << 6) | ((m.type ?? Type.CON) << 4) | token.length;
  header[1] = code;
  header.writeUInt16BE(m.messageId & 0xffff, 2);
  const parts = [header, token];
  const options = (m.options ?? [])
    .map((o, i) => ({ ...o, i }))
    .sort((a, b) => a.number - b.number || a.i - b.i);
  let prev = 0;
  for (const o of options) {
    let value = o.value;
    if (typeof value === 'number') value = encodeUint(value);
    else if (typeof value === 'string') value = Buffer.from(value, 'utf8');
    else if (value == null) value = Buffer.alloc(0);
    const delta = optionHeaderNibble(o.number - prev);
    const len = optionHeaderNibble(value.length);
    parts.push(Buffer.from([(delta.nibble << 4) | len.nibble]), delta.ext, len.ext, value);
    prev = o.number;
  }
  const payload = typeof m.payload === 'string' ? Buffer.from(m.payload, 'utf8') : m.payload;
  if (payload && payload.length > 0) parts.push(Buffer.from([0xff]), payload);
  return Buffer.concat(parts);
}

/** Decode a CoAP message; throws on malformed input. */
export function decode(buf) {
  if (buf.length < 4) throw new Error('short message');
  const version = buf[0] >> 6;
  const type = (buf[0] >> 4) & 3;
  const tkl = buf[0] & 0x0f;
  if (version !== 1) throw new Error(`bad version ${version}`);
  if (tkl > 8) throw new Error('bad token length');
  const code = buf[1];
  const messageId = buf.readUInt16BE(2);
  let pos = 4;
  const token = buf.subarray(pos, pos + tkl);
  pos += tkl;
  const options = [];
  let number = 0;
  let payload = Buffer.alloc(0);
  const ext = (nibble) => {
    if (nibble < 13) return nibble;
    if (nibble === 13) return 13 + buf[pos++];
    if (nibble === 14) {
      const v = 269 + buf.readUInt16BE(pos);
      pos += 2;
      return v;
    }
    throw new Error('reserved option nibble');
  };
  while (pos < buf.length) {
    const b = buf[pos++];
    if (b === 0xff) {
      payload = buf.subarray(pos);
      if (payload.length === 0) throw new Error('payload marker without payload');
      break;
    }
    const delta = ext(b >> 4);
    const len = ext(b & 0x0f);
    number += delta;
    if (pos + len > buf.length) throw new Error('option overruns message');
    options.push({ number, value: buf.subarray(pos, pos + len) });
    pos += len;
  }
  return {
    type,
    typeName: TypeName[type],
    code,
    codeString: codeToString(code),
    messageId,
    token: Buffer.from(token),
    options,
    payload: Buffer.from(payload),
    option(n) {
      return options.find((o) => o.number === n)?.value;
    },
    uintOption(n) {
      const v = options.find((o) => o.number === n)?.value;
      return v === undefined ? undefined : decodeUint(v);
    },
  };
}

/** Uri-Path options for "/a/b". */
export function uriPath(path) {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => ({ number: Option.URI_PATH, value: Buffer.from(s, 'utf8') }));
}

/** Build a request. */
export function request({ type = Type.CON, method = 'POST', path = '/events', messageId, token, contentFormat, options = [], payload }) {
  const opts = [...uriPath(path), ...options];
  if (contentFormat !== undefined) opts.push({ number: Option.CONTENT_FORMAT, value: encodeUint(contentFormat) });
  return encode({
    type,
    code: typeof method === 'number' ? method : Method[method],
    messageId: messageId ?? Math.floor(Math.random() * 0x10000),
    token: token ?? randomToken(),
    options: opts,
    payload,
  });
}

export function randomToken(n = 4) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(Math.random() * 256);
  return b;
}

/**
 * A UDP socket that queues every CoAP datagram it receives, and lets a test await the next one
 * matching a predicate (with a deadline).
 */
export class RawCoapClient {
  static async open(host = '127.0.0.1') {
    const c = new RawCoapClient(host.includes(':') ? 'udp6' : 'udp4');
    c.socket.bind(0, host.includes(':') ? '::1' : '127.0.0.1');
    await once(c.socket, 'listening');
    return c;
  }

  constructor(type) {
    this.socket = dgram.createSocket(type);
    this.received = [];
    this.waiters = [];
    this.socket.on('message', (buf) => {
      let msg;
      try {
        msg = decode(buf);
        msg.raw = buf; // the datagram as received (its size matters for amplification checks)
      } catch (e) {
        msg = { undecodable: true, raw: buf, error: e };
      }
      this.received.push(msg);
      this._wake();
    });
    this.socket.on('error', () => {});
  }

  _wake() {
    for (const w of [...this.waiters]) w();
  }

  send(buf, port, host) {
    return new Promise((resolve, reject) => {
      this.socket.send(buf, port, host, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Remove and return the first received message matching pred, waiting up to timeoutMs. */
  next(pred = () => true, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.received.findIndex((m) => !m.undecodable && pred(m));
        if (i >= 0) {
          const [m] = this.received.splice(i, 1);
          cleanup();
          resolve(m);
          return true;
        }
        return false;
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching CoAP message within ${timeoutMs} ms; got ${JSON.stringify(this.received.map(describe))}`));
      }, timeoutMs);
      if (!check()) this.waiters.push(check);
    });
  }

  /** Send a request and await the response with the same token (piggybacked ACK or separate). */
  async exchange(buf, port, host, timeoutMs = 5000) {
    const req = decode(buf);
    await this.send(buf, port, host);
    const res = await this.next(
      (m) => m.code !== 0 && (m.code >> 5) >= 2 && m.token.equals(req.token),
      timeoutMs,
    );
    // Acknowledge a separate CON response so the server does not retransmit it.
    if (res.type === Type.CON) await this.send(encode({ type: Type.ACK, code: 0, messageId: res.messageId }), port, host);
    return res;
  }

  close() {
    try {
      this.socket.close();
    } catch {
      /* already closed */
    }
  }
}

export function describe(m) {
  if (m.undecodable) return { undecodable: m.raw.toString('hex') };
  return {
    type: m.typeName,
    code: m.codeString,
    mid: m.messageId,
    token: m.token.toString('hex'),
    options: m.options.map((o) => `${o.number}=${o.value.toString('hex')}`),
    payload: m.payload.toString('utf8'),
  };
}
