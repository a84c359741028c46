// Benchmark harness for iot-collector (see README.md here): the same load generator (iotc load)
// against a raw UDP ceiling, libcoap, a Node.js server and the collector's sinks, and over DTLS
// the collector against libcoap, in one run on one machine, with CPU per event, memory, drops, a
// noise check and the issue's targets.
import { parseArgs } from 'node:util';
import { accessSync, constants as fsConstants, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, start } from './lib/processes.mjs';
import { SERVERS, bufferedBytes, startServer, startCollector, usesElastic } from './lib/servers.mjs';
import { Tally, cleanRun, runCell, runOnce, runSweep } from './lib/runner.mjs';
import { median } from './lib/stats.mjs';
import { firstCoapAnswer, freeUdpPort, freeTcpPort, httpGet } from './lib/net.mjs';
import { peakRss, currentRss } from './lib/procstat.mjs';
import { resultsTable, ratioTable, targets, renderText, renderMarkdown, markdownCodeBlock } from './lib/report.mjs';
import { describeMachine } from './lib/machine.mjs';
import { profileCollector, shortSymbol } from './lib/profile.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

function writableDir(path) {
  try {
    accessSync(path, fsConstants.W_OK);
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const USAGE = `node tests/bench/harness.mjs [options]
  --duration S        seconds per measured run (3; --quick 1.5)
  --runs N            rounds, medians of a cell's N runs reported (3; --quick 1): each round starts
                      every server afresh, warms it up and runs each of its cells once
  --warmup S          discarded warm-up run per server and round (1; --quick 0.5)
  --rates A,B,...     open-loop sweep for the collector, requests/s (10000,25000,50000,75000,100000)
  --only NAME[,NAME]  servers: ${SERVERS.map((s) => s.name).join(', ')}
  --quick             one round, short runs
  --smoke             every server, one ~0.5 s run with a small load; exit 1 unless all answered and every column is computed
  --soak S            also run the collector (file sink) at ~80 % of its max rate for S seconds, sampling RSS and throughput every 10 s
  --soak-server NAME  the collector variant the soak runs (collector-file; or collector-accepted: also samples the events buffered for Elasticsearch)
  --soak-rate R       the soak's rate in requests/s instead of 80 % of the closed-loop maximum (an open loop costs more per event than a closed one)
  --profile           also perf-record the collector (file sink, CON, 1 device) at full load
  --json FILE         every raw run as JSON
  --markdown FILE     the results with a description of the machine
  --elastic KIND      what the Elasticsearch variants write to: sink (elastic-bulk-sink, ~0.4 µs per
                      document; default) or test-server (tests/elastic-test-server, ~10 µs per document)
  --sink-dir DIR      where the file-sink cells write (default /dev/shm when writable, else the
                      temporary directory): a disk's write-back stalls are the disk's latency
  --no-pin            don't pin processes to cores
Binaries: IOT_COLLECTOR_BIN, IOTC_BIN, COAP_ACK_SERVER_BIN, ELASTIC_BULK_SINK_BIN (default: build/release).`;

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string' }, runs: { type: 'string' }, warmup: { type: 'string' }, rates: { type: 'string' },
    only: { type: 'string' }, quick: { type: 'boolean' }, smoke: { type: 'boolean' }, soak: { type: 'string' }, 'soak-server': { type: 'string', default: 'collector-file' }, 'soak-rate': { type: 'string' },
    profile: { type: 'boolean' }, json: { type: 'string' }, markdown: { type: 'string' }, 'no-pin': { type: 'boolean' }, 'sink-dir': { type: 'string' }, help: { type: 'boolean' },
    elastic: { type: 'string', default: 'sink' },
  },
});
if (opt.help) {
  console.log(USAGE);
  process.exit(0);
}
const number = (v, fallback, name) => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!(n > 0)) {
    console.error(`bench: --${name} must be a positive number\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const smoke = !!opt.smoke;
const quick = !!opt.quick;
const settings = {
  durationS: smoke ? 0.5 : number(opt.duration, quick ? 1.5 : 3, 'duration'),
  runs: smoke ? 1 : Math.round(number(opt.runs, quick ? 1 : 3, 'runs')),
  warmupS: number(opt.warmup, smoke ? 0.3 : quick ? 0.5 : 1, 'warmup'),
  rates: (opt.rates ?? '10000,25000,50000,75000,100000').split(',').map((r) => number(r, null, 'rates')),
  readyRepeats: smoke || quick ? 1 : 5,
};
if (!['sink', 'test-server'].includes(opt.elastic)) {
  console.error(`bench: --elastic is sink or test-server\n${USAGE}`);
  process.exit(2);
}
const only = opt.only ? opt.only.split(',') : SERVERS.map((s) => s.name);
for (const n of only) {
  if (!SERVERS.some((s) => s.name === n)) {
    console.error(`bench: unknown server ${n} (one of ${SERVERS.map((s) => s.name).join(', ')})`);
    process.exit(2);
  }
}

// Pinning: server on cpu 0, iotc on cpu 1, the Elasticsearch stand-in on cpu 2 when there is
// one (else it shares cpu 1 with iotc). No taskset or one core: no pinning (smoke runs anywhere).
const nproc = cpus().length;
const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const pin = !opt['no-pin'] && hasTaskset && nproc >= 2;
if (!pin && !smoke && !opt['no-pin']) {
  console.error(`bench: ${hasTaskset ? 'needs ≥ 2 cores' : 'taskset is missing'} to pin; use --no-pin to measure unpinned`);
  process.exit(2);
}
const cfg = {
  bins: {
    collector: process.env.IOT_COLLECTOR_BIN ?? join(root, 'build/release/services/collector/iot-collector'),
    iotc: process.env.IOTC_BIN ?? join(root, 'build/release/client/iotc'),
    ack: process.env.COAP_ACK_SERVER_BIN ?? join(root, 'build/release/tests/bench/coap-ack-server'),
    nodeServer: join(here, 'node-coap-server.mjs'),
    esMain: join(root, 'tests/elastic-test-server/main.mjs'),
    esSink: process.env.ELASTIC_BULK_SINK_BIN ?? join(root, 'build/release/tests/bench/elastic-bulk-sink'),
  },
  // The Elasticsearch variants write to a stand-in, by default one that costs ~0.4 µs per
  // document: the Node.js test server (~10 µs) shares iotc's core on a 2-core machine and would be
  // what those cells measure.
  elastic: opt.elastic,
  elasticName: opt.elastic === 'sink' ? 'elastic-bulk-sink' : 'the Elasticsearch test server',
  cpus: pin ? { server: '0', iotc: '1', es: nproc >= 3 ? '2' : '1' } : { server: null, iotc: null, es: null },
  tmp: mkdtempSync(join(tmpdir(), 'iot-bench-')),
  // The file sink's cells measure the collector, not the disk: on this VM's disk the kernel's
  // write-back throttling stalled a write(2) for milliseconds every few seconds (p99 4.2 ms at
  // 50,000 events/s against 0.3 ms into memory).
  sinkRoot: mkdtempSync(join(opt['sink-dir'] ?? (writableDir('/dev/shm') ? '/dev/shm' : tmpdir()), 'iot-bench-sink-')),
};
process.on('exit', () => {
  rmSync(cfg.tmp, { recursive: true, force: true });
  rmSync(cfg.sinkRoot, { recursive: true, force: true });
});
for (const [k, p] of Object.entries(cfg.bins)) {
  if (!existsSync(p)) {
    console.error(`bench: ${k} binary not found at ${p} (build it: bash tests/bench/run.sh, or set its *_BIN variable)`);
    process.exit(2);
  }
}

const log = (s) => process.stderr.write(`${s}\n`);
const out = [];
const say = (s = '') => {
  out.push(s);
  console.log(s);
};

const BASE_CELLS = [1, 10000].flatMap((devices) => [false, true].map((non) => ({ id: `${devices === 1 ? '1dev' : '10kdev'}-${non ? 'non' : 'con'}`, load: { concurrency: 64, devices, non } })));
// With --ack stored a request waits for its bulk request (--bulk-linger-ms, 20 ms, plus the round
// trip), so 64 in flight cap a closed loop near 64 / 25 ms: its throughput needs a wider window.
const WIDE_CELLS = [1, 10000].map((devices) => ({ id: `w1024-${devices === 1 ? '1dev' : '10kdev'}-con`, load: { concurrency: 1024, devices } }));
// With a socket per device, iotc pays a system call per device and datagram and saturates its core
// long before the servers do (the acknowledge-only server drops to ~0.4× with 10,000 ports): the
// same pair with every device its own loopback address on one socket (iotc --spread addresses)
// measures the server's cost of 10,000 peers instead.
const ADDRESS_CELLS = [1, 10000].map((devices) => ({ id: `${devices === 1 ? '1dev' : '10kdev'}-addr-con`, load: { concurrency: 64, devices, spread: 'addresses' } }));
const ADDRESS_SERVERS = new Set(['ack', 'collector-file', 'collector-accepted']);
// Over DTLS every device is a session (~50 KiB in the collector) that every run opens with a
// handshake (the servers start afresh for each run: see startServer), so 1,000 devices rather
// than 10,000; iotc cannot spread DTLS devices over addresses (a session per port).
const DTLS_CELLS = [
  ...BASE_CELLS.filter((c) => c.load.devices === 1),
  { id: '1000dev-con', load: { concurrency: 64, devices: 1000, non: false } },
];
const SMOKE_CELL = { id: 'smoke', load: { concurrency: 4, devices: 2 } };
const WARMUP = { concurrency: 64, devices: 1 };
const SWEEP_DEVICES = 16;
// 16 devices, not 1: iotc aborts when one device has all 65,536 message ids in flight, which a
// server that falls behind an open loop reaches within a second at 100,000/s.
const rateCell = (rate) => ({ id: `rate-${rate}`, load: { rate, devices: SWEEP_DEVICES } });

/** The cells of server `name` that every round runs: all but the collectors' open-loop sweep. */
function fixedCells(name) {
  const { collector: isCollector, dtls } = SERVERS.find((s) => s.name === name);
  return [
    ...(dtls ? DTLS_CELLS : BASE_CELLS),
    ...(ADDRESS_SERVERS.has(name) ? ADDRESS_CELLS : []),
    ...(isCollector ? [{ id: 'batch10', load: { concurrency: 64, devices: 1, batch: 10 } }] : []),
    ...(name === 'collector-stored' ? WIDE_CELLS : []),
    // The latency floor of this machine and iotc at the rate of the p99 target: whatever the
    // collector's p99 there exceeds it by is the collector's.
    ...(name === 'ack' ? [rateCell(50000)] : []),
  ];
}

/**
 * The runs of a cell come from rounds: each round starts every server afresh and runs each of its
 * cells once, so a cell's runs are minutes apart. This VM has slow phases of a minute or more in
 * which the same work costs ~1.5× the CPU; back to back, one of them could take all of a cell's
 * runs and its median with them.
 */
const tally = new Tally();
const sweeps = new Map(); // collector → the rates of its open-loop sweep, once a round decided them

/** One run of `cell` in round `round` into the tally, unless an earlier round refused the cell. */
async function measure(server, cell, round) {
  const refused = tally.refused(server.name, cell.id);
  if (refused) return { run: null, refused };
  log(`  ${server.name}: ${cell.id}`);
  const outcome = await cleanRun(cfg, server, cell, { durationS: settings.durationS, runNumber: round, log });
  tally.add(server.name, cell, outcome);
  return outcome;
}

/** Round `round` of server `name`: start it, warm it up, run each of its cells once, stop it. */
async function benchServerRound(name, round) {
  const server = await startServer(name, cfg);
  try {
    if (smoke) {
      tally.add(name, SMOKE_CELL, { run: await runOnce(cfg, server, SMOKE_CELL.load, settings.durationS) });
      return;
    }
    await runOnce(cfg, server, WARMUP, settings.warmupS); // discarded: caches, allocator, JIT
    await server.betweenRuns();
    for (const cell of fixedCells(name)) await measure(server, cell, round);
    if (SERVERS.find((s) => s.name === name).collector) {
      const rates = await runSweep(settings.rates, sweeps.get(name) ?? null, (rate) => {
        const cell = rateCell(rate);
        // A server that falls far behind can make iotc abort: that rate is refused, as a noisy one.
        return measure(server, cell, round).catch((e) => {
          const outcome = { run: null, refused: e.message };
          tally.add(name, cell, outcome);
          return outcome;
        });
      });
      sweeps.set(name, rates);
    }
  } finally {
    await server.stop();
  }
}

/** Spawn → first answer to GET /health (hand-built CoAP, polled every ~1 ms). Median of repeats. */
async function readyTime() {
  const times = [];
  for (let i = 0; i < settings.readyRepeats; ++i) {
    const port = await freeUdpPort();
    const admin = await freeTcpPort();
    const dir = mkdtempSync(join(cfg.tmp, 'ready-'));
    const since = performance.now();
    const p = start(cfg.bins.collector, ['--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${admin}`, '--sink', `file:${dir}/events.ndjson`, '--threads', '1', '--log-level', 'warn'], { cpus: cfg.cpus.server, name: 'iot-collector' });
    try {
      const a = await firstCoapAnswer(port, { since, everyMs: 1, timeoutMs: 30000, alive: () => p.running });
      if (a.code !== '2.05') throw new Error(`GET /health answered ${a.code}, not 2.05`);
      times.push(a.ms);
    } finally {
      await p.stop();
    }
  }
  return { readyMs: median(times), readyRuns: times };
}

/**
 * --soak: a collector variant at 80 % of its closed-loop maximum (or --soak-rate), sampled every
 * 10 s. The file sink writes to /dev/null: at full load a real file outruns the disk within
 * seconds, and then the disk is measured. With Elasticsearch the samples also hold the bytes
 * waiting for it: a backlog that grows would end in 5.03s.
 */
async function soak(seconds, name, fixedRate) {
  if (!SERVERS.some((s) => s.collector && s.name === name)) throw new Error(`--soak-server: not a collector variant: ${name}`);
  const server = await startServer(name, cfg, { sinkPath: '/dev/null' });
  try {
    await runOnce(cfg, server, WARMUP, settings.warmupS);
    const max = await runOnce(cfg, server, WARMUP, settings.durationS);
    await server.betweenRuns();
    const rate = fixedRate ?? Math.round(max.eventsPerS * 0.8);
    log(`  soak: ${name}, ${seconds} s at ${rate}/s (${Math.round((100 * rate) / max.eventsPerS)} % of ${Math.round(max.eventsPerS)}/s)`);
    const samples = [];
    const metrics = async () => {
      const body = (await httpGet(server.admin, '/metrics')).body;
      return { accepted: Number(/^iot_events_accepted_total\s+(\S+)/m.exec(body)?.[1] ?? NaN), buffered: server.esPid ? bufferedBytes(body) : null };
    };
    let last = { t: performance.now(), n: (await metrics()).accepted };
    const timer = setInterval(async () => {
      const m = await metrics().catch(() => ({ accepted: NaN, buffered: null }));
      const now = { t: performance.now(), n: m.accepted };
      samples.push({ atS: Math.round(samples.length * 10 + 10), rssBytes: currentRss(server.pid), eventsPerS: (now.n - last.n) / ((now.t - last.t) / 1000), bufferedBytes: m.buffered });
      last = now;
    }, 10000);
    try {
      await runOnce(cfg, server, { rate, devices: SWEEP_DEVICES }, seconds);
    } finally {
      clearInterval(timer);
    }
    return { server: name, rate, maxRate: max.eventsPerS, samples, peakRss: peakRss(server.pid) };
  } finally {
    await server.stop();
  }
}

/** Two worker threads on two cores, iotc with two threads on two others; needs 4 cores. */
async function twoThreads() {
  if (nproc < 4 || !pin) return { skipped: `needs ≥ 4 cores and taskset (this machine: ${nproc} cores)` };
  const load = { concurrency: 128, devices: 10000, threads: 2 };
  const local = { ...cfg, cpus: { ...cfg.cpus, iotc: '2,3' } };
  const figures = {};
  for (const threads of [1, 2]) {
    const dir = mkdtempSync(join(cfg.sinkRoot, 'threads-'));
    const s = await startCollector(local, ['--sink', `file:${dir}/events.ndjson`], { threads, cpus: threads === 1 ? '0' : '0,1' });
    const server = { name: `collector-file-${threads}t`, port: s.port, pid: s.proc.pid, esPid: null, proc: s.proc, iotcArgs: [], betweenRuns: async () => {} };
    try {
      await runOnce(local, server, load, settings.warmupS);
      figures[threads] = await runCell(local, server, { id: `${threads}-threads`, load }, { runs: settings.runs, durationS: settings.durationS, log });
    } finally {
      await s.proc.stop();
    }
  }
  return { one: figures[1].eventsPerS, two: figures[2].eventsPerS, speedUp: figures[2].eventsPerS / figures[1].eventsPerS, figures };
}

async function main() {
  const started = performance.now();
  const machine = describeMachine(cfg, here);
  say(`iot-collector benchmark (${smoke ? 'smoke' : quick ? 'quick' : 'full'}): ${method()}`);
  say(`machine: ${machine.cpu}, ${machine.cores} cores, Linux ${machine.kernel}, ${machine.memoryGiB} GiB; commit ${machine.commit}`);
  say(`file sink writes under ${cfg.sinkRoot}`);
  say(pin ? `pinning: server cpu ${cfg.cpus.server}, iotc cpu ${cfg.cpus.iotc}, ${cfg.elasticName} cpu ${cfg.cpus.es}${cfg.cpus.es === cfg.cpus.iotc ? ' (shared with iotc: fewer than 3 cores)' : ''}` : 'pinning: off');
  say('');

  const failures = [];
  for (let round = 1; round <= settings.runs; ++round) {
    for (const name of only) {
      log(`bench: round ${round}/${settings.runs}: ${name}`);
      try {
        await benchServerRound(name, round);
      } catch (e) {
        failures.push(`${name}, round ${round}: ${e.message}`);
        log(`bench: round ${round}/${settings.runs}: ${name} failed: ${e.message}`);
      }
    }
  }
  const results = tally.results();
  let extra = { readyMs: null, readyRuns: [] };
  if (only.some((n) => n.startsWith('collector'))) {
    log('bench: ready time');
    try {
      extra = await readyTime();
    } catch (e) {
      failures.push(`ready time: ${e.message}`);
    }
  }
  const sections = {};
  if (!smoke && only.includes('collector-file')) {
    log('bench: two worker threads');
    sections.twoThreads = await twoThreads().catch((e) => ({ skipped: `failed: ${e.message}` }));
    if (opt.soak) sections.soak = await soak(number(opt.soak, null, 'soak'), opt['soak-server'], opt['soak-rate'] ? number(opt['soak-rate'], null, 'soak-rate') : null).catch((e) => ({ failed: e.message }));
    if (opt.profile) {
      log('bench: profile');
      sections.profile = await runProfile().catch((e) => ({ failed: e.message }));
    }
  }

  const tables = only.map((name) => resultsTable(name, results.filter((r) => r.server === name))).filter((t) => t.rows.length);
  if (!smoke) {
    for (const dtls of [false, true]) {
      const t = ratioTable(results, { dtls });
      if (t.rows.length) tables.push(t);
    }
    tables.push(targets(results, extra));
  }
  for (const t of tables) say(`${renderText(t)}\n`);
  say(`collector ready time (spawn → first 2.05 to GET /health): ${extra.readyMs === null ? '-' : `${extra.readyMs.toFixed(1)} ms`}${extra.readyRuns.length > 1 ? ` (median of ${extra.readyRuns.length})` : ''}`);
  const sectionText = describeSections(sections);
  for (const l of sectionText) say(l);
  for (const f of failures) say(`FAILED ${f}`);
  const elapsed = (performance.now() - started) / 1000;
  say(`\ntotal time ${elapsed.toFixed(0)} s`);

  if (opt.json) writeFileSync(opt.json, JSON.stringify({ machine, settings, pinning: cfg.cpus, results, extra, sections, failures, elapsedSeconds: elapsed }, null, 1));
  if (opt.markdown) {
    const md = [
      '## Benchmark results', '',
      `${machine.date}: ${machine.cpu}, ${machine.cores} cores, Linux ${machine.kernel}, ${machine.memoryGiB} GiB memory; commit ${machine.commit}.`, '',
      ...Object.entries(machine.versions).map(([k, v]) => `- ${k}: ${v}`), '',
      `Method: \`iotc load\` for every server; ${method()}; ` +
        (pin ? `server on cpu ${cfg.cpus.server}, iotc on cpu ${cfg.cpus.iotc}, ${cfg.elasticName} on cpu ${cfg.cpus.es}.` : 'no pinning.') + ` The file sink wrote under ${dirname(cfg.sinkRoot)}. Total ${elapsed.toFixed(0)} s.`, '',
      ...tables.flatMap((t) => [renderMarkdown(t), '']),
      ...markdownCodeBlock(sectionText), '',
    ];
    writeFileSync(opt.markdown, md.join('\n'));
  }

  if (smoke) {
    const problems = [...failures, ...smokeProblems(results, extra)];
    for (const p of problems) say(`smoke: ${p}`);
    process.exitCode = problems.length ? 1 : 0;
    say(problems.length ? 'smoke: FAILED' : 'smoke: ok');
  } else process.exitCode = failures.length ? 1 : 0;
}

/** How a cell's figures were measured, for the header and the Markdown. */
function method() {
  if (smoke) return `one run of ${settings.durationS} s per server`;
  return `${settings.runs} round(s) over all servers, each starting every server afresh with a ${settings.warmupS} s warm-up and running each of its cells once for ${settings.durationS} s; medians of a cell's runs across the rounds`;
}

/** Smoke: every server answered, and every column of its row is a number (figures not judged). */
function smokeProblems(results, extra) {
  const problems = [];
  for (const name of only) {
    const r = results.find((x) => x.server === name);
    if (!r) continue; // its start-up failure is already in `failures`
    if (!(r.runs[0]?.okResponses > 0)) problems.push(`${name}: no 2.xx answer`);
    const columns = ['requestsPerS', 'eventsPerS', 'p50', 'p99', 'p999', 'serverCpuUsPerEvent', 'peakRss', 'drops', 'timeouts', 'retransmissions', 'iotcCpuFraction', ...(usesElastic(name) ? ['esCpuUsPerEvent', 'esPeakRss'] : [])];
    for (const c of columns) if (typeof r[c] !== 'number' || !Number.isFinite(r[c])) problems.push(`${name}: ${c} not computed (${r[c]})`);
  }
  if (only.some((n) => n.startsWith('collector')) && typeof extra.readyMs !== 'number') problems.push('ready time not measured');
  return problems;
}

async function runProfile() {
  const server = await startServer('collector-file', cfg);
  try {
    await runOnce(cfg, server, WARMUP, settings.warmupS);
    const seconds = Math.max(2, settings.durationS);
    // The load runs a second longer than perf, so perf sees the collector at full load throughout.
    return await profileCollector({ pid: server.pid, seconds, tmp: cfg.tmp, load: () => runOnce(cfg, server, WARMUP, seconds + 1) });
  } finally {
    await server.stop();
  }
}

function describeSections(s) {
  const lines = [];
  const t = s.twoThreads;
  if (t) lines.push(t.skipped ? `two worker threads: not measured, ${t.skipped}` : `two worker threads (10,000 devices, window 128, iotc 2 threads): ${Math.round(t.one)} → ${Math.round(t.two)} events/s, speed-up ${t.speedUp.toFixed(2)}×`);
  if (s.soak) {
    if (s.soak.failed) lines.push(`soak: failed: ${s.soak.failed}`);
    else {
      const es = s.soak.samples.some((x) => x.bufferedBytes !== null && x.bufferedBytes !== undefined);
      lines.push(`soak, ${s.soak.server}, at ${s.soak.rate}/s: t (s), RSS (MiB), events/s${es ? ', buffered for Elasticsearch (KiB)' : ''}`);
      for (const x of s.soak.samples) lines.push(`  ${String(x.atS).padStart(5)}  ${(x.rssBytes / 2 ** 20).toFixed(1).padStart(7)}  ${Math.round(x.eventsPerS).toString().padStart(8)}${es ? `  ${x.bufferedBytes === null ? '-' : (x.bufferedBytes / 1024).toFixed(0).padStart(8)}` : ''}`);
      const a = s.soak.samples[0];
      const b = s.soak.samples.at(-1);
      if (a && b) lines.push(`  RSS growth ${((b.rssBytes - a.rssBytes) / 2 ** 20).toFixed(1)} MiB from ${a.atS} s to ${b.atS} s; peak ${(s.soak.peakRss / 2 ** 20).toFixed(1)} MiB`);
    }
  }
  if (s.profile) {
    if (s.profile.failed) lines.push(`profile: failed: ${s.profile.failed}`);
    else {
      lines.push('', 'profile (perf cpu-clock, collector file sink, CON, 1 device, full load)');
      lines.push(renderText({ title: 'by shared object', header: ['dso', '% of samples'], rows: s.profile.byDso.slice(0, 10).map(([k, v]) => [k, v.toFixed(1)]) }), '');
      lines.push(renderText({ title: 'by part', header: ['part', '% of samples'], rows: s.profile.byCategory.map(([k, v]) => [k, v.toFixed(1)]) }), '');
      lines.push(renderText({ title: 'top symbols', header: ['symbol', 'dso', 'part', '%'], rows: s.profile.top.map((r) => [shortSymbol(r.sym).slice(0, 90), r.dso, r.category, r.pct.toFixed(2)]), left: [0, 1, 2] }));
    }
  }
  return lines;
}

main().catch(async (e) => {
  console.error(`bench: ${e.stack || e.message}`);
  await killAll();
  process.exit(1);
});
