// Runs the real iotc binary (IOTC_BIN) and collects its output; bounded by a timeout.
import fs from 'node:fs';
import dgram from 'node:dgram';
import coap from 'coap';
import { spawn } from 'node:child_process';
import { noteSanitizerReport, trackProcess, waitFor } from './collector.mjs';

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
      noteSanitizerReport(`iotc ${args.join(' ')}`, stderr);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** --host/--port of a started Collector. */
export function target(c) {
  return ['--host', c.coap.host, '--port', String(c.coap.port)];
}

/** A UDP port nobody holds right now (the kernel's pick). */
export async function freeUdpPort() {
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise((resolve) => socket.close(resolve));
  return port;
}

/** An npm coap server on 127.0.0.1 answering POST /events after `delayMs` (beyond 50 ms: a separate response). */
export async function startNpmServer({ delayMs = 0, code = '2.01' } = {}) {
  const requests = [];
  const server = coap.createServer();
  server.on('request', (req, res) => {
    requests.push({ method: req.method, url: req.url, contentFormat: req.headers['Content-Format'], body: req.payload.toString('utf8'), type: req._packet.confirmable ? 'CON' : 'NON', rsinfo: req.rsinfo });
    setTimeout(() => {
      res.code = code;
      res.end();
    }, delayMs);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, requests, port: server._sock.address().port, close: () => new Promise((r) => server.close(r)) };
}


/** libcoap's coap-server-notls on 127.0.0.1 (it has no /health or /events: both answer 4.04). */
export async function startLibcoapServer() {
  const port = await freeUdpPort();
  const proc = trackProcess(spawn('coap-server-notls', ['-A', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' }));
  // Up once it answers at all; a first request sent too early is retransmitted (RFC 7252).
  await waitFor(async () => /^4\.04/.test((await iotc(['health', '--host', '127.0.0.1', '--port', String(port)], { timeoutMs: 20_000 })).stdout), {
    timeoutMs: 15_000,
    what: 'coap-server-notls answering',
  });
  return { port, kill: () => proc.kill() };
}
