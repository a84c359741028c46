// One request interface over the three ways the tests talk CoAP: libcoap's CLI, the npm `coap`
// client, and raw datagrams.
import { coapClient, dumpOption } from './coapClient.mjs';
import { npmCoapRequest, responseOption } from './npmCoap.mjs';
import { RawCoapClient, request as rawRequest, Type, Option, describe } from './coap.mjs';

/**
 * @typedef {object} Answer
 * @property {string|null} code      "2.01"
 * @property {string} type           "ACK" | "NON" | "CON" | "RST"
 * @property {string} text           diagnostic (4.xx/5.xx) or body (2.05), as text
 * @property {number|undefined} contentFormat
 * @property {number|undefined} size1
 * @property {number|undefined} maxAge
 * @property {object} raw
 */

/** Send with coap-client-notls. */
async function viaCli(c, { method = 'POST', path = '/events', payload, contentFormat, confirmable = true, block }) {
  const r = await coapClient({ uri: c.coapUri(path), method: method.toLowerCase(), payload, contentFormat, block, nonConfirmable: !confirmable });
  const code = r.code;
  const isError = code !== null && Number(code[0]) >= 4;
  let text = '';
  if (isError) text = r.diagnostic ?? '';
  else if (r.body) text = r.body.toString('utf8');
  const cfName = dumpOption(r.last, 'Content-Format');
  const cf = cfName === undefined ? undefined : { 'text/plain': 0, 'application/json': 50 }[cfName] ?? Number(cfName);
  const num = (s) => (s === undefined ? undefined : Number(s));
  return { code, type: r.last?.type, text, contentFormat: cf, size1: num(dumpOption(r.last, 'Size1')), maxAge: num(dumpOption(r.last, 'Max-Age')), raw: r };
}

/** Send with the npm coap client. */
async function viaNpm(c, { method = 'POST', path = '/events', payload, contentFormat, confirmable = true, block1Szx }) {
  const res = await npmCoapRequest({ host: c.coap.host, port: c.coap.port, method, path, payload, contentFormat, confirmable, block1Szx });
  const cf = res.options.find((o) => o.name === 'Content-Format');
  const cfNum = cf === undefined ? undefined : typeof cf.value === 'string' ? { 'text/plain': 0, 'application/json': 50 }[cf.value.split(';')[0]] : responseOption(res, 'Content-Format');
  return {
    code: res.code,
    type: res.type,
    text: res.payload.toString('utf8'),
    contentFormat: cfNum,
    size1: responseOption(res, 'Size1'),
    maxAge: responseOption(res, 'Max-Age'),
    raw: res,
  };
}

/** Send one raw datagram and await the answer with the same token. */
export async function viaRaw(c, { method = 'POST', path = '/events', payload, contentFormat, confirmable = true, options = [], messageId, token }) {
  const client = await RawCoapClient.open(c.coap.host);
  try {
    const buf = rawRequest({ type: confirmable ? Type.CON : Type.NON, method, path, payload, contentFormat, options, messageId, token });
    const m = await client.exchange(buf, c.coap.port, c.coap.host);
    return {
      code: m.codeString,
      type: m.typeName,
      text: m.payload.toString('utf8'),
      contentFormat: m.uintOption(Option.CONTENT_FORMAT),
      size1: m.uintOption(Option.SIZE1),
      maxAge: m.uintOption(Option.MAX_AGE),
      hasMaxAge: m.option(Option.MAX_AGE) !== undefined,
      raw: m,
      describe: describe(m),
    };
  } finally {
    client.close();
  }
}

/** Content-Format argument per client: the CLI takes a number, npm coap a media type or bytes. */
export const CLIENTS = [
  {
    name: 'coap-client-notls',
    send: (c, o) => viaCli(c, { ...o, contentFormat: o.contentFormat === undefined ? undefined : String(o.contentFormat) }),
  },
  {
    name: 'npm coap',
    send: (c, o) => viaNpm(c, { ...o, contentFormat: o.contentFormat === 50 ? 'application/json' : o.contentFormat === 0 ? 'text/plain' : o.contentFormat }),
  },
];

export const RAW = { name: 'raw udp', send: viaRaw };

/** JSON body as text. */
export function json(v) {
  return JSON.stringify(v);
}
