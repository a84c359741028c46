// The servers under test. Each `start*` returns a running server once it takes requests:
// {name, port, pid, esPid?, betweenRuns(), stop()}. Servers listen on 127.0.0.1 only, on free ports.
import { rmSync, truncateSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { start } from './processes.mjs';
import { freeTcpPort, freeUdpPort, firstCoapAnswer, httpGet, waitForHttp200 } from './net.mjs';

/** In run order; `collector` marks the iot-collector variants (they get the extra cells). */
export const SERVERS = [
  { name: 'ack', title: 'coap-ack-server (raw UDP ceiling)', collector: false },
  { name: 'libcoap', title: 'libcoap coap-server-notls -d 10', collector: false },
  { name: 'node-coap', title: 'Node.js npm coap 1.5.0', collector: false },
  { name: 'collector-file', title: 'iot-collector, file sink', collector: true },
  { name: 'collector-accepted', title: 'iot-collector, Elasticsearch, --ack accepted', collector: true },
  { name: 'collector-small-bulks', title: 'iot-collector, Elasticsearch, --ack accepted --bulk-max-docs 200 (latency tuning)', collector: true },
  { name: 'collector-gzip', title: 'iot-collector, Elasticsearch, --ack accepted --bulk-gzip', collector: true },
  { name: 'collector-stored', title: 'iot-collector, Elasticsearch, --ack stored', collector: true },
];

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

// libcoap prints nothing when it is up: its first CoAP answer (4.04 for /health) says so.
async function startLibcoap(cfg, track) {
  const port = await freeUdpPort();
  const p = track(start('coap-server-notls', ['-A', '127.0.0.1', '-p', String(port), '-d', '10'], { cpus: cfg.cpus.server, name: 'coap-server-notls' }));
  await firstCoapAnswer(port, { timeoutMs: READY_MS, alive: () => p.running });
  return { port, proc: p };
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

/** iot-collector with `sinkArgs`; ready when /readyz answers 200 (with Elasticsearch: after its bootstrap). */
export async function startCollector(cfg, sinkArgs, { threads = 1, cpus = cfg.cpus.server, track = (p) => p } = {}) {
  const port = await freeUdpPort();
  const admin = await freeTcpPort();
  const args = ['--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${admin}`, '--threads', String(threads), '--log-level', 'warn', ...sinkArgs];
  const p = track(start(cfg.bins.collector, args, { cpus, name: 'iot-collector' }));
  await waitForHttp200(admin, '/readyz', { timeoutMs: READY_MS, alive: () => p.running });
  return { port, admin, proc: p };
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
    if (name === 'ack') s = await startAck(cfg, track);
    else if (name === 'libcoap') s = await startLibcoap(cfg, track);
    else if (name === 'node-coap') s = await startNodeCoap(cfg, track);
    else if (name === 'collector-file' && sinkPath) {
      s = await startCollector(cfg, ['--sink', `file:${sinkPath}`], { track });
    } else if (name === 'collector-file') {
      const dir = mkdtempSync(join(cfg.sinkRoot, 'sink-')); // under the harness's sink directory: gone on exit, whatever happens
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const file = join(dir, 'events.ndjson');
      s = await startCollector(cfg, ['--sink', `file:${file}`], { track });
      // The collector appends with O_APPEND, so emptying the file between runs is safe and keeps
      // a long benchmark from filling the disk.
      betweenRuns = async () => truncateSync(file, 0);
    } else if (ELASTIC_ARGS[name]) {
      es = await startElastic(cfg, track);
      s = await startCollector(cfg, ['--elasticsearch-url', `http://127.0.0.1:${es.port}`, ...ELASTIC_ARGS[name]], { track });
      betweenRuns = () => drainElastic(s.admin);
    } else throw new Error(`unknown server ${name}`);
    return { name, port: s.port, admin: s.admin, pid: s.proc.pid, esPid: es?.proc.pid ?? null, proc: s.proc, betweenRuns, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
