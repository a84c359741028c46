// Runs libcoap's CLI client (coap-client-notls 4.3.x) and extracts the response code.
//
// How it reports (checked against coap-server-notls 4.3.1): at the default verbosity a 2.xx
// response prints only its payload (to stdout or the -o file) and 4.xx/5.xx print
// "4.04 <diagnostic payload>" on stderr; the exit status is 0 either way. With -v 6 every PDU
// sent and received is dumped to stdout as
//   v:1 t:ACK c:2.01 i:82c4 {01} [ Size1:4096 ] :: 'payload'
// so we run with -v 6 and take the code of the last response dumped (for a Block1 upload the
// earlier ones are the 2.31 Continue answers).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, trackProcess } from './collector.mjs';

export const COAP_CLIENT = process.env.IOT_IT_COAP_CLIENT ?? 'coap-client-notls';

export function coapClientAvailable() {
  const r = spawnSync(COAP_CLIENT, ['-h', 'x'], { encoding: 'utf8' });
  return !r.error;
}

const dumpRe = /^v:1 t:(CON|NON|ACK|RST) c:(\S+) i:([0-9a-f]+) \{([0-9a-f]*)\} \[(.*?)\](?: :: (.*))?$/;

export function parseDumps(stdout) {
  const pdus = [];
  for (const line of stdout.split('\n')) {
    const m = dumpRe.exec(line.trim());
    if (m) pdus.push({ type: m[1], code: m[2], mid: parseInt(m[3], 16), token: m[4], options: m[5].trim(), payload: m[6] });
  }
  return pdus;
}

/**
 * @param {object} o
 * @param {string} o.uri
 * @param {string} [o.method] get|post|put|delete
 * @param {string|number} [o.contentFormat] value for -t
 * @param {string|Buffer} [o.payload] sent via -f (a temp file), so no percent-decoding applies
 * @param {number} [o.block] -b size (Block1 upload)
 * @param {boolean} [o.nonConfirmable] -N
 * @param {number} [o.waitSeconds] -B
 * @param {string} [o.client] the libcoap client binary (coap-client-openssl for coaps:// URIs)
 * @returns {Promise<{code:string|null, diagnostic:string|null, body:Buffer|null, responses:object[],
 *   requests:object[], last:object|undefined, stdout:string, stderr:string, status:number|null}>}
 */
export async function coapClient({ uri, method = 'get', contentFormat, payload, block, nonConfirmable = false, waitSeconds = 10, extraArgs = [], client = COAP_CLIENT }) {
  const dir = makeTempDir();
  try {
    const out = path.join(dir, 'response.out');
    const args = ['-v', '6', '-B', String(waitSeconds), '-m', method, '-o', out];
    if (contentFormat !== undefined) args.push('-t', String(contentFormat));
    if (payload !== undefined) {
      const f = path.join(dir, 'payload.in');
      fs.writeFileSync(f, payload);
      args.push('-f', f);
    }
    if (block !== undefined) args.push('-b', String(block));
    if (nonConfirmable) args.push('-N');
    args.push(...extraArgs, uri);
    const { status, stdout, stderr } = await run(client, args, (waitSeconds + 10) * 1000);
    const pdus = parseDumps(stdout);
    const responses = pdus.filter((p) => /^[1-7]\.\d\d$/.test(p.code) && p.code !== '0.00');
    const requests = pdus.filter((p) => !/^\d\.\d\d$/.test(p.code));
    const last = responses.at(-1);
    const code = last?.code ?? null;
    let diagnostic = null;
    for (const line of stderr.split('\n')) {
      const m = /^(\d\.\d\d)(?: (.*))?$/.exec(line);
      if (m && m[1] === code) diagnostic = m[2] ?? '';
    }
    const body = fs.existsSync(out) ? fs.readFileSync(out) : null;
    return { code, diagnostic, body, responses, requests, last, stdout, stderr, status, args };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Value of a numeric option shown in a dump's option list, e.g. optionValue(pdu, 'Size1'). */
export function dumpOption(pdu, name) {
  const m = new RegExp(`(?:^|, )${name}:([^,]*)`).exec(pdu?.options ?? '');
  return m ? m[1].trim() : undefined;
}

function run(cmd, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const p = trackProcess(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
