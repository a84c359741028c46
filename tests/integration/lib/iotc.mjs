// Runs the real iotc binary (IOTC_BIN) and collects its output; bounded by a timeout.
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { trackProcess } from './collector.mjs';

export function iotcBin() {
  const bin = process.env.IOTC_BIN;
  if (!bin) throw new Error('IOTC_BIN is not set: point it at the built iotc binary');
  if (!fs.existsSync(bin)) throw new Error(`IOTC_BIN=${bin} does not exist`);
  return bin;
}

/** Run `iotc ...args`; resolves {status, signal, stdout, stderr}. Killed after timeoutMs. */
export function iotc(args, { timeoutMs = 30_000, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const childEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('IOTC_')) childEnv[k] = v;
    const p = spawn(iotcBin(), args, { env: { ...childEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    trackProcess(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`iotc ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** --host/--port of a started Collector. */
export function target(c) {
  return ['--host', c.coap.host, '--port', String(c.coap.port)];
}
