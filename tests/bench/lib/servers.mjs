// The servers under test. Each `start*` returns a running server once it takes requests:
// {name, port, pid, esPid?, iotcArgs (flags iotc needs for it), betweenRuns(), stop()}. Servers
// listen on 127.0.0.1 only, on free ports.
import { accessSync, constants as fsConstants, rmSync, truncateSync, mkdtempSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { start } from './processes.mjs';
import { freeTcpPort, freeUdpPort, freeUdpPortPair, firstCoapAnswer, httpGet, waitForHttp200 } from './net.mjs';

/**
 * In run order; `collector` marks the iot-collector variants (they get the extra cells), `dtls`
 * the servers that iotc reaches over DTLS 1.2 with a pre-shared key (they get the DTLS cells, a
 * fresh process for every run, and are compared with each other only).
 */
export const SERVERS = [
  { name: 'ack', title: 'coap-ack-server (raw UDP ceiling)', collector: false },
  { name: 'libcoap', title: 'libcoap coap-server-notls -d 10', collector: false },
  { name: 'node-coap', title: 'Node.js npm coap 1.5.0', collector: false },
  { name: 'collector-file', title: 'iot-collector, file sink', collector: true },
  { name: 'collector-accepted', title: 'iot-collector, Elasticsearch, --ack accepted', collector: true },
  { name: 'collector-small-bulks', title: 'iot-collector, Elasticsearch, --ack accepted --bulk-max-docs 200 (latency tuning)', collector: true },
  { name: 'collector-gzip', title: 'iot-collector, Elasticsearch, --ack accepted --bulk-gzip', collector: true },
  { name: 'collector-stored', title: 'iot-collector, Elasticsearch, --ack stored', collector: true },
  { name: 'libcoap-dtls', title: 'libcoap coap-server-openssl -d 10, CoAP over DTLS 1.2 (PSK)', collector: false, dtls: true },
  { name: 'collector-dtls', title: 'iot-collector, file sink, CoAP over DTLS 1.2 (PSK)', collector: true, dtls: true },
];

/** Whether server `name` is reached over DTLS (see SERVERS). */
export const isDtls = (name) => SERVERS.some((s) => s.name === name && s.dtls);

// The benchmark's pre-shared key, the same for every device and both DTLS servers. libcoap's -k
// takes its argument's bytes as the key, so it is ASCII; iotc (16-64 bytes, as hex) and the
// collector's key file take the hex of those bytes. libcoap without -i accepts any identity with
// the -k key, and the collector looks the identity up in its key file (and takes it as the
// events' sender): both get this one. Not a secret, so on the command line.
const PSK_IDENTITY = 'bench';
const PSK_ASCII = 'iot-bench-psk-key-0123456789abcd';
const PSK_HEX = Buffer.from(PSK_ASCII).toString('hex');
// --handshake-first: the run measures established sessions, not requests queued behind their
// device's handshake (the handshakes are in iotc's report).
const DTLS_IOTC_ARGS = ['--psk-identity', PSK_IDENTITY, '--psk-key', PSK_HEX, '--handshake-first'];

const READY_MS = 30000;
// The Elasticsearch variants' flags. Smaller bulk requests make each burst of work on the
// thread that answers devices shorter, and five times as many, for ~3 % more collector CPU.
// gzip trades the collector's (and the stand-in's) CPU for fewer bytes to Elasticsearch.
const ELASTIC_ARGS = {
  'collector-accepted': ['--ack', 'accepted'],
  'collector-small-bulks': ['--ack', 'accepted', '--bulk-max-docs', '200'],
  'collector-gzip': ['--ack', 'accepted', '--bulk-gzip'],
  'collector-stored': ['--ack', 'stored'],
};

/** Whether server `name` writes to Elasticsearch (its cells then have the stand-in's columns too). */
export const usesElastic = (name) => Object.hasOwn(ELASTIC_ARGS, name);

async function startAck(cfg, track) {
  const port = await freeUdpPort();
  const p = track(start(cfg.bins.ack, [String(port), '1'], { cpus: cfg.cpus.server, name: 'coap-ack-server' }));
  await p.line(/"listening"/, READY_MS);
  return { port, proc: p };
}

/** Whether `command` is an executable file in a directory of PATH. */
function onPath(command) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir || '.', command), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

// libcoap prints nothing when it is up: its first CoAP answer (4.04 for /health) on the plain
// port says so (with DTLS too: coap-server opens all its endpoints before it serves any). A
// missing program is said as such, not as a server that never answered.
async function startLibcoapProgram(cfg, track, program, port, args) {
  if (!onPath(program)) throw new Error(`${program} not found on PATH (Debian/Ubuntu: apt-get install libcoap3-bin)`);
  const p = track(start(program, ['-A', '127.0.0.1', '-p', String(port), '-d', '10', ...args], { cpus: cfg.cpus.server, name: program }));
  await firstCoapAnswer(port, { timeoutMs: READY_MS, alive: () => p.running }).catch((e) => {
    throw new Error(`${e.message}: ${p.describe()}`);
  });
  return p;
}

async function startLibcoap(cfg, track) {
  const port = await freeUdpPort();
  return { port, proc: await startLibcoapProgram(cfg, track, 'coap-server-notls', port, []) };
}

// coap-server-openssl serves DTLS on its -p port + 1 (plain CoAP stays on the port itself).
async function startLibcoapDtls(cfg, track) {
  const plain = await freeUdpPortPair();
  return { port: plain + 1, proc: await startLibcoapProgram(cfg, track, 'coap-server-openssl', plain, ['-k', PSK_ASCII]) };
}

async function startNodeCoap(cfg, track) {
  const port = await freeUdpPort();
  const p = track(start(process.execPath, [cfg.bins.nodeServer, String(port)], { cpus: cfg.cpus.server, name: 'node-coap-server' }));
  await p.line(/"listening"/, READY_MS);
  return { port, proc: p };
}

async function startElastic(cfg, track) {
  const port = await freeTcpPort();
  const p =
    cfg.elastic === 'sink'
      ? track(start(cfg.bins.esSink, [String(port)], { cpus: cfg.cpus.es, name: 'elastic-bulk-sink' }))
      : track(start(process.execPath, [cfg.bins.esMain, '--port', String(port)], { cpus: cfg.cpus.es, name: 'elastic-test-server' }));
  await p.line(/"listening"/, READY_MS);
  return { port, proc: p };
}

/**
 * iot-collector with `sinkArgs`; ready when /readyz answers 200 (with Elasticsearch: after its
 * bootstrap). With `pskFile` it also serves DTLS, on the plain port + 1: `port` is then the DTLS
 * one (the load's) and `plainPort` the plain one, which the collector always opens.
 */
export async function startCollector(cfg, sinkArgs, { threads = 1, cpus = cfg.cpus.server, track = (p) => p, pskFile = null } = {}) {
  const port = pskFile ? await freeUdpPortPair() : await freeUdpPort();
  const admin = await freeTcpPort();
  const dtlsArgs = pskFile ? ['--psk-file', pskFile, '--listen-dtls', `127.0.0.1:${port + 1}`] : [];
  const args = ['--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${admin}`, '--threads', String(threads), '--log-level', 'warn', ...dtlsArgs, ...sinkArgs];
  const p = track(start(cfg.bins.collector, args, { cpus, name: 'iot-collector' }));
  await waitForHttp200(admin, '/readyz', { timeoutMs: READY_MS, alive: () => p.running });
  return pskFile ? { port: port + 1, plainPort: port, admin, proc: p } : { port, admin, proc: p };
}

/** Sum of iot_elasticsearch_buffered_bytes{worker=...} in a /metrics text. */
export function bufferedBytes(metrics) {
  let sum = 0;
  for (const m of metrics.matchAll(/^iot_elasticsearch_buffered_bytes(?:\{[^}]*\})?\s+(\S+)/gm)) sum += Number(m[1]);
  return sum;
}

/**
 * Wait (at most maxMs, polling /metrics) until the collector has nothing buffered for
 * Elasticsearch: events accepted in one run (NON, --ack accepted) are still being written after
 * it, and would slow the next run down.
 */
async function drainElastic(admin, maxMs = 60000) {
  const end = performance.now() + maxMs;
  while (performance.now() < end) {
    if (bufferedBytes((await httpGet(admin, '/metrics')).body) === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the collector still had events buffered for Elasticsearch after ${maxMs} ms`);
}

/** The DTLS collector's key file (IDENTITY HEXKEY lines) in the harness's temporary directory. */
function writePskFile(cfg) {
  const file = join(cfg.tmp, 'psk-keys.txt');
  writeFileSync(file, `${PSK_IDENTITY} ${PSK_HEX}\n`, { mode: 0o600 });
  return file;
}

/** Start server `name`; the result's `stop()` also removes what it left behind. */
// `sinkPath` replaces the file sink's temporary file (the soak writes to /dev/null: at full load
// the file sink outruns a disk within seconds, and the soak is about the collector).
export async function startServer(name, cfg, { sinkPath } = {}) {
  const own = [];
  const track = (p) => (own.push(p), p);
  const cleanups = [];
  const stop = async () => {
    for (const p of own.reverse()) await p.stop();
    for (const c of cleanups) c();
  };
  try {
    let s;
    let es = null;
    let betweenRuns = async () => {};
    let launch = null; // the DTLS servers': starts the server again before each run (below)
    if (name === 'ack') s = await startAck(cfg, track);
    else if (name === 'libcoap') s = await startLibcoap(cfg, track);
    else if (name === 'node-coap') s = await startNodeCoap(cfg, track);
    else if (name === 'libcoap-dtls') {
      launch = () => startLibcoapDtls(cfg, track);
      s = await launch();
    } else if (name === 'collector-file' || name === 'collector-dtls') {
      // collector-dtls is collector-file with its devices over DTLS.
      const pskFile = name === 'collector-dtls' ? writePskFile(cfg) : null;
      let file = sinkPath;
      if (!file) {
        const dir = mkdtempSync(join(cfg.sinkRoot, 'sink-')); // under the harness's sink directory: gone on exit, whatever happens
        cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
        file = join(dir, 'events.ndjson');
        // The collector appends with O_APPEND, so emptying the file between runs is safe and keeps
        // a long benchmark from filling the disk.
        betweenRuns = async () => truncateSync(file, 0);
      }
      launch = () => startCollector(cfg, ['--sink', `file:${file}`], { track, pskFile });
      s = await launch();
    } else if (ELASTIC_ARGS[name]) {
      es = await startElastic(cfg, track);
      s = await startCollector(cfg, ['--elasticsearch-url', `http://127.0.0.1:${es.port}`, ...ELASTIC_ARGS[name]], { track });
      betweenRuns = () => drainElastic(s.admin);
    } else throw new Error(`unknown server ${name}`);
    const server = { name, port: s.port, admin: s.admin, pid: s.proc.pid, esPid: es?.proc.pid ?? null, proc: s.proc, iotcArgs: [], betweenRuns, stop };
    if (isDtls(name)) {
      // A fresh DTLS server for every run. iotc ends its sessions with close_notify, but libcoap
      // 4.3.1 keeps its CoAP session for the address after closing the DTLS one, and ignores a
      // new ClientHello on it: some of the next run's devices get an earlier device's source
      // port again (1,000 devices from the ~28,000 ephemeral ports: ~35 per run), never connect
      // and hold their share of the window until the run ends (in a try, a second 1,000-device
      // run fell from 5,450 to 261 requests/s). The collector starts a new handshake there, but
      // started afresh, both servers do the same work in every run: its handshakes, nothing
      // from before.
      server.iotcArgs = DTLS_IOTC_ARGS;
      server.betweenRuns = async () => {
        await server.proc.stop();
        own.splice(own.indexOf(server.proc), 1);
        await betweenRuns();
        const next = await launch();
        Object.assign(server, { port: next.port, admin: next.admin, pid: next.proc.pid, proc: next.proc });
      };
    }
    return server;
  } catch (e) {
    await stop();
    throw e;
  }
}
