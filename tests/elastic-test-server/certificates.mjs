// Throwaway TLS material for tests: a CA valid for one day and a server certificate it signed.
// Needs the `openssl` CLI. The files stay in `dir` (the caller removes it) so that programs under
// test can be pointed at them (e.g. iot-collector --elasticsearch-ca <dir>/ca.crt).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

/**
 * @param {{names?: string[]}} options  subjectAltName entries, default DNS:localhost and IP:127.0.0.1
 * @returns {{dir: string, key: Buffer, cert: Buffer, ca: Buffer, caFile: string}}
 */
export function makeTestCertificates({ names = ['DNS:localhost', 'IP:127.0.0.1'] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'es-test-tls-'));
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=es-test-ca');
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=es-test-server');
  fs.writeFileSync(path.join(dir, 'ext.cnf'), `subjectAltName=${names.join(',')}\nbasicConstraints=CA:FALSE\n`);
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'ext.cnf');
  const read = (f) => fs.readFileSync(path.join(dir, f));
  return { dir, key: read('server.key'), cert: read('server.crt'), ca: read('ca.crt'), caFile: path.join(dir, 'ca.crt') };
}
