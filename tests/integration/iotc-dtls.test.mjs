// iotc over DTLS (coaps, pre-shared keys) against an independent server: libcoap's
// coap-server-openssl (Debian libcoap3-bin), which listens for DTLS on its port + 1 and takes any
// identity with its -k key. It has no /health and no /events, so a request that made it through
// the handshake is answered 4.04 (exit 1, "4.04 Not Found" on stdout): what tells a working DTLS
// session from a failed handshake ("dtls handshake failed: ..."). Bounded waits only.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { killAll, trackProcess, waitFor } from './lib/collector.mjs';
import { iotc, freeUdpPort } from './lib/iotc.mjs';

const KEY_TEXT = 'iotc-dtls-test-key-0001'; // libcoap's -k takes the key's bytes as text
const KEY_HEX = Buffer.from(KEY_TEXT).toString('hex');
const WRONG_HEX = Buffer.from('iotc-dtls-wrong-key-999').toString('hex');
const haveServer = spawnSync('sh', ['-c', 'command -v coap-server-openssl']).status === 0;

async function udpPortIsFree(port) {
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      socket.close();
    } catch {
      /* never bound */
    }
  }
}

let server; // { dtlsPort, proc }
let dir;

before(async () => {
  if (!haveServer) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotc-dtls-'));
  // The plain port and the DTLS port (plain + 1) must both be free.
  let port = 0;
  for (let attempt = 0; attempt < 20 && port === 0; ++attempt) {
    const candidate = await freeUdpPort();
    if (candidate < 65535 && (await udpPortIsFree(candidate + 1))) port = candidate;
  }
  assert.ok(port > 0, 'no two adjacent free UDP ports');
  const proc = trackProcess(spawn('coap-server-openssl', ['-A', '127.0.0.1', '-p', String(port), '-k', KEY_TEXT], { stdio: 'ignore' }));
  server = { dtlsPort: port + 1, proc };
  // Up once a coaps request gets an answer (each try gives up after a 1 s handshake).
  await waitFor(
    async () => /^4\.04/.test((await iotc(['health', ...coaps('dev-1', KEY_HEX), '--handshake-timeout', '1'], { timeoutMs: 20_000 })).stdout),
    { timeoutMs: 20_000, what: 'coap-server-openssl answering over DTLS' },
  );
});

after(async () => {
  await killAll();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function coaps(identity, keyHex) {
  return ['--host', '127.0.0.1', '--port', String(server.dtlsPort), '--psk-identity', identity, '--psk-key', keyHex];
}

describe('iotc over DTLS (coap-server-openssl)', { skip: !haveServer && 'coap-server-openssl (libcoap3-bin) is not installed' }, () => {
  it('health: the handshake succeeds and the server answers (4.04: it has no /health)', async () => {
    const r = await iotc(['health', ...coaps('dev-1', KEY_HEX)]);
    assert.match(r.stdout, /^4\.04 Not Found/, r.stderr);
    assert.equal(r.status, 1);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(KEY_HEX, 'i'));
  });

  it('send: POST /events over DTLS is answered; the key may come from IOTC_PSK_KEY', async () => {
    const r = await iotc(['send', 'temperature', '21.5', '--host', '127.0.0.1', '--port', String(server.dtlsPort), '--psk-identity', 'dev-2'], {
      env: { IOTC_PSK_KEY: `base64:${Buffer.from(KEY_TEXT).toString('base64')}` },
    });
    assert.match(r.stdout, /^4\.0[45] /, r.stderr);
    assert.match(r.stdout, /"sender":"dev-2"/, 'over DTLS the sender is the PSK identity');
    assert.equal(r.status, 1);
  });

  it('a keys file works the same (device i uses line i mod N)', async () => {
    const file = path.join(dir, 'psk.txt');
    fs.writeFileSync(file, `# test keys\nfleet-0 ${KEY_HEX}\nfleet-1 ${KEY_HEX}\n`);
    const r = await iotc(['health', '--host', '127.0.0.1', '--port', String(server.dtlsPort), '--psk-file', file]);
    assert.match(r.stdout, /^4\.04 Not Found/, r.stderr);
  });

  it('a wrong key: the handshake fails within --handshake-timeout, exit 1, the key never shown', async () => {
    const started = Date.now();
    for (const command of [['health'], ['send', 'temperature', '1']]) {
      const r = await iotc([...command, ...coaps('dev-1', WRONG_HEX), '--handshake-timeout', '2']);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /^dtls handshake failed: /);
      assert.doesNotMatch(r.stdout + r.stderr, new RegExp(`${WRONG_HEX}|${KEY_HEX}`, 'i'));
    }
    assert.ok(Date.now() - started < 15_000, 'bounded by the handshake timeout');
  });

  it('load: every request answered over DTLS, and the report counts the handshakes', async () => {
    const r = await iotc(['load', ...coaps('dev-1', KEY_HEX), '--devices', '4', '--count', '20', '--rate', '200', '--report', 'json']);
    const report = JSON.parse(r.stdout);
    assert.equal(report.requests_sent, 20);
    assert.equal(report.answered, 20, r.stderr);
    assert.equal(report.handshakes.established, 4);
    assert.equal(report.handshakes.failed, 0);
    assert.equal(report.handshakes.time_ms.samples, 4);
    assert.ok(report.handshakes.time_ms.p50 > 0);
  });
});

describe('iotc DTLS flags', () => {
  it('refuses half a PSK, a bad key, and a key next to a keys file, with exit 2 and no key in the message', async () => {
    const cases = [
      [['health', '--psk-identity', 'dev-1'], /--psk-identity needs --psk-key/],
      [['health', '--psk-key', KEY_HEX], /--psk-key needs --psk-identity/],
      [['health', '--psk-identity', 'dev-1', '--psk-key', 'abcd'], /--psk-key: /],
      [['health', '--psk-file', '/nonexistent/psk.txt'], /--psk-file: /],
      [['health', '--psk-file', 'x', '--psk-identity', 'a', '--psk-key', KEY_HEX], /conflicts/],
      [['load', '--count', '1', '--handshake-first'], /--handshake-first needs DTLS/],
    ];
    for (const [args, message] of cases) {
      const r = await iotc(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, new RegExp(KEY_HEX, 'i'));
    }
  });

  it('--help documents coaps and the DTLS default port', async () => {
    const r = await iotc(['--help']);
    assert.match(r.stdout, /--psk-identity/);
    assert.match(r.stdout, /5684/);
  });
});
