// What the figures were measured on: CPU, cores, kernel, memory, versions of everything used.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';

const run = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 }).trim();
  } catch (e) {
    return String(e.stdout || e.stderr || '').trim() || null;
  }
};

export function describeMachine(cfg, benchDir) {
  const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const binary = (path) => {
    const version = run(path, ['--version'])?.split('\n')[0] ?? 'missing';
    let built = '';
    try {
      built = `, built ${statSync(path).mtime.toISOString()}`;
    } catch {
      /* reported as missing above */
    }
    return `${version}${built}`;
  };
  const commit = run('git', ['-C', benchDir, 'rev-parse', '--short', 'HEAD']);
  const dirty = run('git', ['-C', benchDir, 'status', '--porcelain', '--untracked-files=no']);
  let npmCoap = 'not installed';
  try {
    npmCoap = JSON.parse(readFileSync(join(benchDir, 'node_modules/coap/package.json'), 'utf8')).version;
  } catch {
    /* npm ci not run */
  }
  return {
    cpu: model,
    cores: cpus().length,
    kernel: release(),
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    date: new Date().toISOString(),
    commit: commit ? `${commit}${dirty ? ' (with uncommitted changes)' : ''}` : 'unknown',
    versions: {
      'iot-collector': binary(cfg.bins.collector),
      iotc: binary(cfg.bins.iotc),
      'coap-ack-server': binary(cfg.bins.ack).replace(/^.*?(, built)/, 'n/a$1'),
      libcoap: run('coap-server-notls', ['-h'])?.split('\n').find((l) => /v\d/.test(l))?.trim() ?? 'missing',
      // The DTLS baseline's TLS library (its usage text says which, and which it was built for).
      'libcoap DTLS': run('coap-server-openssl', ['-h'])?.split('\n').find((l) => /^TLS Library:/.test(l))?.replace(/^TLS Library:\s*/, '') ?? 'missing',
      node: process.version,
      'npm coap': npmCoap,
    },
  };
}
