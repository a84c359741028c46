#!/usr/bin/env node
// Runs the Elasticsearch test server on its own, for manual runs and benchmarks:
//   node main.mjs --port 9200 [--host 127.0.0.1] [--tls-key K --tls-cert C]
//                 [--api-key ID:KEY] [--user U --password P] [--keep-sources|--no-keep-sources]
// Prints one JSON line {"listening": url} on stdout once it accepts connections; stops on
// SIGTERM or SIGINT. By default it keeps no request bodies and no document sources, so a long
// benchmark does not grow memory by the size of everything sent (ids are kept: 409s work).
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { startElasticTestServer } from './server.mjs';

function usage(message) {
  process.stderr.write(`${message}\nusage: node main.mjs --port N [--host H] [--tls-key FILE --tls-cert FILE] [--api-key ID:KEY] [--user U --password P] [--keep-sources] [--log-bodies]\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      port: { type: 'string', default: '9200' },
      host: { type: 'string', default: '127.0.0.1' },
      'tls-key': { type: 'string' },
      'tls-cert': { type: 'string' },
      'api-key': { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      'keep-sources': { type: 'boolean', default: false },
      'log-bodies': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }));
} catch (err) {
  usage(err.message);
}
if (values.help) usage('Elasticsearch-compatible test server');
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`bad --port ${values.port}`);
if (Boolean(values['tls-key']) !== Boolean(values['tls-cert'])) usage('--tls-key and --tls-cert go together');

const auth = values['api-key'] || values.user ? { apiKey: values['api-key'], username: values.user, password: values.password } : undefined;
const tls = values['tls-key'] ? { key: fs.readFileSync(values['tls-key']), cert: fs.readFileSync(values['tls-cert']) } : undefined;

// Handlers first: a supervisor may send SIGTERM as soon as it has read the "listening" line.
let server;
let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  await server?.stop();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

try {
  server = await startElasticTestServer({
    host: values.host,
    port,
    tls,
    auth,
    keepSources: values['keep-sources'],
    logBodies: values['log-bodies'],
    requestLogLimit: 1000,
  });
} catch (err) {
  process.stderr.write(`elastic-test-server: cannot listen on ${values.host}:${port}: ${err.message}\n`);
  process.exit(1);
}
if (stopping) await server.stop(); // SIGTERM arrived while starting
else process.stdout.write(JSON.stringify({ listening: server.url }) + '\n');
