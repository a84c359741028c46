// Starts the real iot-collector binary on ephemeral loopback ports in a fresh temp dir and waits
// for its "ready" log line; reads the file sink; stops it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const READY_TIMEOUT_MS = 15_000;

const live = new Set();

// A sanitizer report on a child's stderr fails the test file, whatever the test itself checked:
// under halt_on_error (ASan's abort_on_error, TSan's halt_on_error=1, exit status 66) the report
// may come at shutdown, after a SIGKILL the test expected, or in a run whose exit status nobody
// reads. Each report is printed once at exit, with the command that produced it.
const SANITIZER_REPORT = /^(WARNING: ThreadSanitizer:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: UndefinedBehaviorSanitizer)|: runtime error: /m;
const sanitizerReports = [];

/** Record a sanitizer report in a finished child's stderr (see SANITIZER_REPORT). */
export function noteSanitizerReport(command, stderr) {
  const m = SANITIZER_REPORT.exec(stderr ?? '');
  if (m) sanitizerReports.push(`${command}\n${stderr.slice(Math.max(0, m.index - 200))}`);
}

process.on('exit', () => {
  if (sanitizerReports.length === 0) return;
  process.exitCode = 1;
  for (const report of sanitizerReports) process.stderr.write(`\nsanitizer report from ${report}\n`);
});

/** Register a child process so that killAll() ends it if a test leaves it running. */
export function trackProcess(p) {
  live.add(p);
  p.on('close', () => live.delete(p));
  return p;
}

/** Path of the binary under test (IOT_COLLECTOR_BIN). */
export function collectorBin() {
  const bin = process.env.IOT_COLLECTOR_BIN;
  if (!bin) {
    throw new Error('IOT_COLLECTOR_BIN is not set: point it at the built iot-collector binary');
  }
  if (!fs.existsSync(bin)) throw new Error(`IOT_COLLECTOR_BIN=${bin} does not exist`);
  return bin;
}

/** The environment for a child: the test's own, minus any IOT_COLLECTOR_* setting, plus extra. */
export function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('IOT_COLLECTOR_')) env[k] = v;
  }
  return { ...env, ...extra };
}

export function makeTempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'iot-collector-it-'));
}

/** "127.0.0.1:40123" / "[::1]:40123" -> { host, port } */
export function parseHostPort(s) {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`cannot parse address ${JSON.stringify(s)}`);
  return { host: m[1], port: Number(m[2]) };
}

/** Poll fn() until it returns a truthy value or the deadline passes. */
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Run the collector with arbitrary args to completion (for configuration errors, --version).
 * Returns { status, signal, stdout, stderr }.
 */
export function runCollector(args, { env = {}, timeoutMs = 15_000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(collectorBin(), args, { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`collector ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.on('close', (status, signal) => {
      clearTimeout(timer);
      live.delete(proc);
      noteSanitizerReport(`iot-collector ${args.join(' ')}`, stderr);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

export class Collector {
  /**
   * @param {object} o
   * @param {string} [o.listen]  CoAP listen address (default 127.0.0.1:0)
   * @param {string[]} [o.args]  extra flags
   * @param {object} [o.env]     extra environment
   * @param {object|function} [o.env] extra environment, or a function of the Collector (dir, sinkPath)
   * @param {boolean} [o.standardFlags] pass the standard flags (default true); false: only args
   */
  static async start({ listen = '127.0.0.1:0', adminListen = '127.0.0.1:0', args = [], env = {}, instance = 'it-1', standardFlags = true } = {}) {
    const c = new Collector();
    c.dir = makeTempDir();
    c.sinkPath = path.join(c.dir, 'events.ndjson');
    c.args = standardFlags
      ? [
          '--listen', listen,
          '--admin-listen', adminListen,
          '--sink', `file:${c.sinkPath}`,
          '--log-format', 'json',
          '--threads', '2',
          '--instance', instance,
          ...args,
        ]
      : [...args];
    const extraEnv = typeof env === 'function' ? env(c) : env;
    c.proc = spawn(collectorBin(), c.args, { cwd: c.dir, env: childEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(c.proc);
    c.stderr = '';
    c.stdout = '';
    c.logs = [];
    c.exit = new Promise((resolve) => {
      c.proc.on('close', (status, signal) => {
        live.delete(c.proc);
        noteSanitizerReport(`iot-collector ${c.args.join(' ')}`, c.stderr);
        c.exited = { status, signal };
        resolve(c.exited);
      });
    });
    c.proc.on('error', (e) => {
      c.spawnError = e;
      c.exited ??= { status: null, signal: null, error: e.message };
    });
    let partial = '';
    c.proc.stderr.on('data', (d) => {
      c.stderr += d;
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop();
      for (const line of lines) {
        if (line.trim() === '') continue;
        try {
          c.logs.push(JSON.parse(line));
        } catch {
          c.logs.push({ unparsable: line });
        }
      }
    });
    c.proc.stdout.on('data', (d) => (c.stdout += d));

    let ready;
    try {
      ready = await waitFor(() => c.logs.find((l) => l.msg === 'ready') ?? (c.exited ? { exitedEarly: true } : null), {
        timeoutMs: READY_TIMEOUT_MS,
        what: 'the "ready" log line',
      });
    } catch (e) {
      await c.kill();
      throw new Error(`${e.message}\nstderr:\n${c.stderr}`);
    }
    if (ready.exitedEarly) {
      await c.kill();
      throw new Error(`collector exited before ready (${JSON.stringify(c.exited)}${c.spawnError ? `, ${c.spawnError.message}` : ''})\nstderr:\n${c.stderr}`);
    }
    c.ready = ready;
    if (typeof ready.coap !== 'string' || typeof ready.admin !== 'string') {
      await c.kill();
      throw new Error(`"ready" log line lacks "coap"/"admin" address fields: ${JSON.stringify(ready)}`);
    }
    c.coap = parseHostPort(ready.coap);
    c.admin = parseHostPort(ready.admin);
    return c;
  }

  get pid() {
    return this.proc.pid;
  }

  /** Host for URIs: "127.0.0.1" or "[::1]". */
  get coapUriHost() {
    return this.coap.host.includes(':') ? `[${this.coap.host}]` : this.coap.host;
  }

  coapUri(p = '/events') {
    return `coap://${this.coapUriHost}:${this.coap.port}${p}`;
  }

  adminUrl(p) {
    const h = this.admin.host.includes(':') ? `[${this.admin.host}]` : this.admin.host;
    return `http://${h}:${this.admin.port}${p}`;
  }

  get running() {
    return this.exited === undefined;
  }

  signal(sig) {
    if (this.running) this.proc.kill(sig);
  }

  /** Await the process's exit with a deadline. */
  async waitExit(timeoutMs = 15_000) {
    let timer;
    const t = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`collector did not exit within ${timeoutMs} ms\nstderr:\n${this.stderr}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exit, t]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kill (SIGKILL) if still running and remove the temp dir. Safe to call twice. */
  async kill() {
    if (this.running && this.proc.pid !== undefined) {
      this.proc.kill('SIGKILL');
      await this.waitExit(10_000).catch(() => {});
    }
    if (this.dir && !process.env.IOT_IT_KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Raw sink lines (no trailing empty line). */
  sinkLines() {
    let text;
    try {
      text = fs.readFileSync(this.sinkPath, 'utf8');
    } catch (e) {
      if (e.code === 'ENOENT') return [];
      throw e;
    }
    if (text === '') return [];
    if (!text.endsWith('\n')) throw new Error(`sink file does not end with a newline: ${JSON.stringify(text.slice(-200))}`);
    return text.slice(0, -1).split('\n');
  }

  /** A mark to read only what was appended afterwards. */
  sinkMark() {
    return this.sinkLines().length;
  }

  /** Parsed bulk pairs [{action, doc, actionLine, docLine}] appended since mark. */
  sinkPairs(mark = 0) {
    const lines = this.sinkLines();
    if (lines.length % 2 !== 0) throw new Error(`sink file has an odd number of lines (${lines.length})`);
    if (mark % 2 !== 0) throw new Error(`bad sink mark ${mark}`);
    const pairs = [];
    for (let i = mark; i < lines.length; i += 2) {
      let action;
      let doc;
      try {
        action = JSON.parse(lines[i]);
      } catch (e) {
        throw new Error(`sink line ${i + 1} is not JSON: ${lines[i]}`);
      }
      try {
        doc = JSON.parse(lines[i + 1]);
      } catch (e) {
        throw new Error(`sink line ${i + 2} is not JSON: ${lines[i + 1]}`);
      }
      pairs.push({ action, doc, actionLine: lines[i], docLine: lines[i + 1] });
    }
    return pairs;
  }

  logsWith(msg) {
    return this.logs.filter((l) => l.msg === msg);
  }
}

/** Kill every process these helpers started that is still running (for after() hooks). */
export async function killAll() {
  const waits = [];
  for (const p of live) {
    if (p.exitCode === null && p.signalCode === null) {
      waits.push(new Promise((r) => p.once('close', r)));
      p.kill('SIGKILL');
    }
  }
  await Promise.all(waits);
}
