// The original design, as a baseline: a Node.js CoAP server on npm `coap` that does what the
// collector does up to (not including) storage: parse the JSON body and check each event's
// required fields, then answer 2.01 (4.00 on bad JSON or a bad event). GET /health answers 2.05.
//
//   node node-coap-server.mjs PORT      listens on 127.0.0.1; prints {"listening":PORT}
import coap from 'coap';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node node-coap-server.mjs PORT');
  process.exit(2);
}

const IDENTIFIER = /^[A-Za-z0-9._:-]{1,128}$/;

// The schema of the collector README's "CoAP API": sender, origin and payload.type are required
// identifiers, namespace an optional one, payload.value required, timestamp optional.
function eventError(e) {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return 'not an object';
  if (typeof e.sender !== 'string' || !IDENTIFIER.test(e.sender)) return 'sender';
  if (typeof e.origin !== 'string' || !IDENTIFIER.test(e.origin)) return 'origin';
  if (e.namespace !== undefined && (typeof e.namespace !== 'string' || !IDENTIFIER.test(e.namespace))) return 'namespace';
  const p = e.payload;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) return 'payload';
  if (typeof p.type !== 'string' || !IDENTIFIER.test(p.type)) return 'payload.type';
  if (p.value === undefined || p.value === null) return 'payload.value';
  if (e.timestamp !== undefined && typeof e.timestamp !== 'string' && typeof e.timestamp !== 'number') return 'timestamp';
  return null;
}

function answer(res, code, text) {
  res.code = code;
  res.end(text);
}

const server = coap.createServer({ type: 'udp4' });
server.on('request', (req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/health') {
    if (req.method !== 'GET') return answer(res, '4.05');
    res.setOption('Content-Format', 'application/json');
    return answer(res, '2.05', '{"status":"ok"}');
  }
  if (path !== '/events') return answer(res, '4.04');
  if (req.method !== 'POST') return answer(res, '4.05');
  let body;
  try {
    body = JSON.parse(req.payload.toString('utf8'));
  } catch {
    return answer(res, '4.00', 'malformed JSON');
  }
  const events = Array.isArray(body) ? body : [body];
  for (let i = 0; i < events.length; ++i) {
    const error = eventError(events[i]);
    if (error) return answer(res, '4.00', `event[${i}].${error}`);
  }
  answer(res, '2.01');
});
server.listen(port, '127.0.0.1', () => console.log(JSON.stringify({ listening: port })));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
