// One load run (iotc against a running server, with the CPU, memory and drop counters around
// it), one clean run of a cell (repeated while other processes disturb it), and the runs of each
// cell gathered over rounds into medians.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { start, pinned } from './processes.mjs';
import { CLK_TCK, machineCpu, peakRss, processCpuSeconds, processTable, selfCpuSeconds, udpCounters, parsePidStat } from './procstat.mjs';
import { median, maximum, keepsUp, noiseDecision, othersTicks, saturated, histogramBuckets, bucketDelta, bucketQuantile, bucketShareAtMost } from './stats.mjs';
import { httpGet } from './net.mjs';

const DRAIN_MS = 2000;
let runNumber = 0;

/**
 * iotc's flags for a load description {concurrency | rate, devices, spread, non, batch, threads},
 * then the server's own (`extra`: its server object's iotcArgs, e.g. the DTLS servers' key).
 */
export function iotcArgs(port, load, durationS, output, extra = []) {
  const args = ['load', '--host', '127.0.0.1', '--port', String(port), '--duration', `${Math.round(durationS * 1000)}ms`, '--devices', String(load.devices), '--threads', String(load.threads ?? 1), '--batch', String(load.batch ?? 1), '--drain-timeout-ms', String(DRAIN_MS), '--silent', '--output', output];
  if (load.rate) args.push('--rate', String(load.rate));
  else args.push('--concurrency', String(load.concurrency));
  if (load.non) args.push('--non');
  if (load.spread) args.push('--spread', load.spread);
  args.push(...extra);
  return args;
}

// iotc runs under sh, which reads its own /proc/PID/stat after waiting for iotc: the cutime and
// cstime fields then hold exactly iotc's CPU time, which /proc can no longer show once iotc exited.
const WRAPPER = '"$@"; rc=$?; read -r s < /proc/$$/stat; echo "IOTC_STAT $s"; exit $rc';

const ourPids = (server) => new Set([process.pid, server.pid, ...(server.esPid ? [server.esPid] : [])]);

const snapshot = (server) => ({
  t: performance.now(),
  processes: processTable(),
  machine: machineCpu(),
  server: processCpuSeconds(server.pid),
  es: server.esPid ? processCpuSeconds(server.esPid) : null,
  self: selfCpuSeconds(),
  udp: udpCounters(),
});

// The collector's iot_coap_receive_wait_seconds (kernel receipt of a datagram to its batch's
// answers leaving), read outside the measured window: what the collector itself adds to the
// latency iotc sees, without the load generator's share.
const RECEIVE_WAIT = 'iot_coap_receive_wait_seconds';
const receiveWaits = async (server) => (server.admin ? histogramBuckets((await httpGet(server.admin, '/metrics')).body, RECEIVE_WAIT) : null);

/** One measured run; returns the raw record (everything the report needs, and the iotc report). */
export async function runOnce(cfg, server, load, durationS) {
  const output = join(cfg.tmp, `iotc-${++runNumber}.json`);
  const waitsBefore = await receiveWaits(server);
  const before = snapshot(server);
  const [cmd, argv] = pinned(cfg.cpus.iotc, cfg.bins.iotc, iotcArgs(server.port, load, durationS, output, server.iotcArgs));
  const p = start('sh', ['-c', WRAPPER, 'sh', cmd, ...argv], { name: 'iotc' });
  const limitMs = durationS * 1000 + DRAIN_MS + 60000;
  const statLine = await p.line(/^IOTC_STAT /, limitMs).catch(async (e) => {
    await p.stop();
    throw e;
  });
  const { code } = await p.exited;
  const after = snapshot(server);
  // Right after the run, from the process that ran it: each round (and each run of a DTLS
  // server) has a process of its own, so the peak cannot be read once the cell is over.
  const serverPeakRss = peakRss(server.pid);
  const esPeakRss = server.esPid ? peakRss(server.esPid) : null;
  if (!server.proc.running) throw new Error(`${server.name} exited during a run: ${server.proc.describe()}`);
  const waits = waitsBefore?.length ? bucketDelta(waitsBefore, await receiveWaits(server)) : null;
  const waitP99 = waits ? bucketQuantile(waits, 0.99) : null;
  let report;
  try {
    report = JSON.parse(readFileSync(output, 'utf8'));
  } catch {
    throw new Error(`iotc wrote no report (exit status ${code}): ${p.describe()}`);
  } finally {
    rmSync(output, { force: true });
  }

  const child = parsePidStat(statLine.slice('IOTC_STAT '.length));
  const iotcCpu = (child.cutime + child.cstime) / CLK_TCK;
  const wall = (after.t - before.t) / 1000;
  const serverCpu = after.server - before.server;
  const esCpu = server.esPid ? after.es - before.es : null;
  // The noise decision counts other processes' CPU directly. The machine-wide figure (/proc/stat)
  // is kept for the record only: softirq work for our own packets that lands while a CPU is
  // idle is charged to no process, so "machine − ours" overstates others on a half-loaded server.
  const ours = serverCpu + (esCpu ?? 0) + iotcCpu + (after.self - before.self);
  const machineBusy = (after.machine.busy - before.machine.busy) / CLK_TCK;
  const noise = noiseDecision({ otherSeconds: othersTicks(before.processes, after.processes, ourPids(server)) / CLK_TCK, wallSeconds: wall });
  const batch = load.batch ?? 1;
  const events = report.ok_responses * batch;
  const perEvent = (cpu) => (events > 0 && cpu !== null ? (cpu * 1e6) / events : null);
  return {
    load,
    durationS,
    wallSeconds: wall,
    requestsPerS: report.throughput_per_second,
    eventsPerS: report.ok_responses * batch / report.duration_seconds,
    answeredFraction: report.requests_sent ? report.answered / report.requests_sent : 0,
    okFraction: report.requests_sent ? report.ok_responses / report.requests_sent : 0,
    okResponses: report.ok_responses,
    p50: report.latency_ms.p50,
    p99: report.latency_ms.p99,
    p999: report.latency_ms.p99_9,
    serverWaitP99: waitP99 === null ? null : waitP99 * 1000,
    serverWaitWithin250us: waits ? bucketShareAtMost(waits, 0.00025) : null,
    serverCpuSeconds: serverCpu,
    serverCpuUsPerEvent: perEvent(serverCpu),
    esCpuSeconds: esCpu,
    esCpuUsPerEvent: perEvent(esCpu),
    serverPeakRss,
    esPeakRss,
    drops: after.udp.inErrors - before.udp.inErrors,
    rcvbufDrops: after.udp.rcvbufErrors - before.udp.rcvbufErrors,
    timeouts: report.timeouts,
    retransmissions: report.retransmissions,
    // Over DTLS: devices whose handshake did not complete in the run (they sent nothing).
    handshakesIncomplete: report.handshakes ? report.handshakes.started - report.handshakes.established : null,
    iotcCpuFraction: iotcCpu / wall / (load.threads ?? 1),
    iotcSaturated: saturated(iotcCpu, wall, load.threads ?? 1),
    // With fewer than 3 cores the Elasticsearch stand-in shares iotc's core: when the two fill
    // it, the figure is theirs (a floor of the collector's), not the collector's.
    sharedCoreSaturated: esCpu !== null && cfg.cpus.es !== null && cfg.cpus.es === cfg.cpus.iotc && (iotcCpu + esCpu) / wall >= 0.95,
    otherCores: noise.otherCores,
    noisy: noise.noisy,
    machineBusyCores: machineBusy / wall,
    unattributedCores: (machineBusy - ours) / wall,
    iotc: report,
  };
}

/**
 * Before repeating a noisy run, give whatever disturbed it a chance to finish: watch other
 * processes in half-second windows until one is quiet, for at most maxMs.
 */
async function waitForQuiet(server, maxMs = 10000) {
  const end = performance.now() + maxMs;
  while (performance.now() < end) {
    const a = { t: performance.now(), processes: processTable() };
    await new Promise((r) => setTimeout(r, 500));
    const wall = (performance.now() - a.t) / 1000;
    const others = othersTicks(a.processes, processTable(), ourPids(server)) / CLK_TCK;
    if (!noiseDecision({ otherSeconds: others, wallSeconds: wall }).noisy) return;
  }
}

/**
 * One clean run of a cell: retried up to `tries` times when other processes took more than a
 * tenth of a core, after waiting for them to quiet down. Returns {run, discarded, refused}; a run
 * that stays noisy refuses the cell (`refused` says why, `run` is null). `runNumber` is for the log.
 */
export async function cleanRun(cfg, server, cell, { durationS, runNumber, tries = 3, log = () => {} }) {
  const discarded = [];
  for (let attempt = 1; attempt <= tries; ++attempt) {
    await server.betweenRuns();
    const run = await runOnce(cfg, server, cell.load, durationS);
    if (!run.noisy) return { run, discarded, refused: null };
    discarded.push(run);
    log(`  ${server.name} ${cell.id}: run ${runNumber} noisy (others used ${(run.otherCores * 100).toFixed(0)} % of a core), ${attempt < tries ? 'repeating' : 'giving up'}`);
    if (attempt < tries) await waitForQuiet(server);
  }
  return { run: null, discarded, refused: `other processes used ${(discarded.at(-1).otherCores * 100).toFixed(0)} % of a core in ${tries} tries` };
}

/** A cell: `runs` clean runs back to back on one server process (see cleanRun), medians. */
export async function runCell(cfg, server, cell, { runs, durationS, tries = 3, log = () => {} }) {
  const tally = new Tally();
  for (let i = 0; i < runs && !tally.refused(server.name, cell.id); ++i) {
    tally.add(server.name, cell, await cleanRun(cfg, server, cell, { durationS, runNumber: i + 1, tries, log }));
  }
  return tally.results()[0];
}

/**
 * The runs of each (server, cell) gathered over rounds, in the order the cells first ran. A cell
 * refused in one round stays refused: later rounds skip it (see `refused`), and it is reported
 * with the runs it had, without figures.
 */
export class Tally {
  #cells = new Map();

  /** Adds a cleanRun outcome {run, discarded, refused} (or just {run} or {refused}) of `cell`. */
  add(serverName, cell, { run = null, discarded = [], refused = null }) {
    const key = JSON.stringify([serverName, cell.id]);
    if (!this.#cells.has(key)) this.#cells.set(key, { serverName, cell, runs: [], discarded: [], refused: null });
    const c = this.#cells.get(key);
    if (run) c.runs.push(run);
    c.discarded.push(...discarded);
    c.refused ??= refused;
  }

  /** Why cell `cellId` of server `serverName` was refused, or null. */
  refused(serverName, cellId) {
    return this.#cells.get(JSON.stringify([serverName, cellId]))?.refused ?? null;
  }

  /** Every cell: its summary over all its runs, or its refusal. */
  results() {
    return [...this.#cells.values()].map((c) => (c.refused ? { server: c.serverName, cell: c.cell.id, refused: c.refused, runs: c.runs, discarded: c.discarded } : summarise(c.serverName, c.cell, c.runs, c.discarded)));
  }
}

/** The open-loop sweep stops after a rate the server could not keep up with (higher rates say nothing more), or that was refused. */
export const stopsSweep = ({ run, refused }) => !!refused || !keepsUp({ answeredFraction: run.okFraction, p99Ms: run.p99 });

/**
 * A server's open-loop sweep in one round, through `runRate(rate)` → a cleanRun outcome. Until a
 * round has decided its rates (`decided` null) it goes through `rates` in order and stops at the
 * first that stopsSweep, judged on that one run; later rounds run exactly the rates that round ran,
 * the last one too, so that every cell of the sweep gets a run in every round. Returns the rates run.
 */
export async function runSweep(rates, decided, runRate) {
  const ran = [];
  for (const rate of decided ?? rates) {
    const outcome = await runRate(rate);
    ran.push(rate);
    if (!decided && stopsSweep(outcome)) break;
  }
  return ran;
}

/** The figures of a cell from its clean runs: medians, sums of the counters, the highest peak RSS. */
export function summarise(serverName, cell, runs, discarded = []) {
  const m = (key) => median(runs.map((r) => r[key]));
  const sum = (key) => runs.reduce((a, r) => a + r[key], 0);
  return {
    server: serverName,
    cell: cell.id,
    refused: null,
    requestsPerS: m('requestsPerS'),
    eventsPerS: m('eventsPerS'),
    answeredFraction: m('answeredFraction'),
    okFraction: m('okFraction'),
    p50: m('p50'),
    p99: m('p99'),
    p999: m('p999'),
    serverWaitP99: m('serverWaitP99'),
    serverWaitWithin250us: m('serverWaitWithin250us'),
    serverCpuUsPerEvent: m('serverCpuUsPerEvent'),
    esCpuUsPerEvent: m('esCpuUsPerEvent'),
    // A run's figure is the peak of its own process up to it (a round's, or a DTLS server's fresh
    // one): the cell's is the highest over its runs.
    peakRss: maximum(runs.map((r) => r.serverPeakRss)),
    esPeakRss: maximum(runs.map((r) => r.esPeakRss)),
    drops: sum('drops'),
    timeouts: sum('timeouts'),
    retransmissions: sum('retransmissions'),
    handshakesIncomplete: runs.some((r) => r.handshakesIncomplete !== null && r.handshakesIncomplete !== undefined) ? sum('handshakesIncomplete') : null,
    iotcCpuFraction: m('iotcCpuFraction'),
    iotcSaturated: runs.some((r) => r.iotcSaturated),
    sharedCoreSaturated: runs.some((r) => r.sharedCoreSaturated),
    runs,
    discarded,
  };
}
