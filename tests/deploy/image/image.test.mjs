// The container image, checked without Docker: ci/docker/rootfs.sh stages the image's root
// filesystem from the binaries under test (IOT_COLLECTOR_BIN, IOTC_BIN) into a temp dir, exactly
// as the Dockerfile's build stage does, and the result runs under chroot as the image's user
// 65532 with what a container runtime provides (/proc, a minimal /dev, a read-only root and a
// writable volume), in a private mount namespace so nothing leaks onto the host.
// The Dockerfile itself is linted by parsing its instructions.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SOURCE_DIR = process.env.IOT_SOURCE_DIR ?? path.resolve(import.meta.dirname, '../../..');
const ROOTFS_SH = path.join(SOURCE_DIR, 'ci/docker/rootfs.sh');
const DOCKERFILE = path.join(SOURCE_DIR, 'ci/docker/Dockerfile');
const DOCKERIGNORE = path.join(SOURCE_DIR, 'ci/docker/Dockerfile.dockerignore');
const UID = 65532;
const WORKDIR = 'var/lib/iot-collector';
const RUN_TIMEOUT_MS = 15_000;

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-image-test-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

function binaries() {
  const out = {};
  for (const [name, variable] of [['iot-collector', 'IOT_COLLECTOR_BIN'], ['iotc', 'IOTC_BIN']]) {
    const p = process.env[variable];
    if (!p) throw new Error(`${variable} is not set: point it at the built ${name}`);
    if (!fs.existsSync(p)) throw new Error(`${variable}=${p} does not exist`);
    out[name] = path.resolve(p);
  }
  return out;
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// chroot, mounts and chown need root; CI and the development machines run as root.
const missingTools = ['chroot', 'unshare', 'mount', 'readelf', 'ldd', 'coap-client-notls', 'shellcheck'].filter((t) => !have(t));
const SKIP_ROOTFS =
  process.getuid() !== 0 ? 'staging and chroot need root' : missingTools.length ? `missing tools: ${missingTools.join(', ')}` : false;

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: RUN_TIMEOUT_MS, ...opts });
  if (r.error) throw r.error;
  return r;
}

function stage(dest, bins) {
  const r = sh('bash', [ROOTFS_SH, dest, ...bins]);
  assert.equal(r.status, 0, `rootfs.sh failed:\n${r.stdout}\n${r.stderr}`);
  return dest;
}

/** Every entry under root: relative path -> lstat. */
function walk(root) {
  const entries = new Map();
  const visit = (rel) => {
    for (const name of fs.readdirSync(path.join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(root, r));
      entries.set(r, st);
      if (st.isDirectory()) visit(r);
    }
  };
  visit('');
  return entries;
}

/** The libraries the binaries load, as the host's ldd resolves them (absolute paths, no leading /). */
function expectedLibraries(bins) {
  const libs = new Set();
  for (const b of bins) {
    const r = sh('ldd', [b]);
    assert.equal(r.status, 0, `ldd ${b}: ${r.stderr}`);
    for (const line of r.stdout.split('\n')) {
      const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
      if (m) libs.add(m[1].slice(1));
    }
    const interp = /Requesting program interpreter: (\S+)\]/.exec(sh('readelf', ['--program-headers', b]).stdout);
    if (interp) libs.add(interp[1].slice(1));
  }
  return libs;
}

const FIXED_FILES = [
  'etc/passwd', 'etc/group', 'etc/nsswitch.conf', 'etc/ssl/certs/ca-certificates.crt',
  'usr/local/bin/iot-collector', 'usr/local/bin/iotc',
];
const FIXED_LINKS = ['usr/lib/ssl/cert.pem'];
const FIXED_DIRS = ['tmp', WORKDIR];
// Anything that would give an attacker (or an operator's `docker exec`) a shell or a package manager.
const FORBIDDEN = /^(bin|sbin|usr\/bin|usr\/sbin)(\/|$)|(^|\/)(sh|bash|dash|ash|busybox|apt|apt-get|dpkg|curl|wget)$|^var\/lib\/(dpkg|apt)|^etc\/apt/;

/** What is wrong with a staged root filesystem's layout; [] when it is exactly the image. */
function layoutProblems(root, libs) {
  const problems = [];
  const entries = walk(root);
  const allowedFiles = new Set([...FIXED_FILES, ...libs]);
  const allowedDirs = new Set(FIXED_DIRS);
  for (const f of [...allowedFiles, ...FIXED_LINKS, ...FIXED_DIRS]) {
    for (let d = path.posix.dirname(f); d !== '.'; d = path.posix.dirname(d)) allowedDirs.add(d);
  }
  for (const [rel, st] of entries) {
    if (FORBIDDEN.test(rel)) problems.push(`forbidden: /${rel}`);
    if (st.isDirectory()) {
      if (!allowedDirs.has(rel)) problems.push(`unexpected directory: /${rel}`);
    } else if (st.isSymbolicLink()) {
      if (!FIXED_LINKS.includes(rel)) problems.push(`unexpected symlink: /${rel}`);
    } else if (!st.isFile() || !allowedFiles.has(rel)) {
      problems.push(`unexpected file: /${rel}`);
    }
  }
  for (const rel of [...allowedFiles, ...FIXED_LINKS, ...FIXED_DIRS]) {
    if (!entries.has(rel)) problems.push(`missing: /${rel}`);
  }
  for (const bin of ['usr/local/bin/iot-collector', 'usr/local/bin/iotc']) {
    const st = entries.get(bin);
    if (st && (st.uid !== 0 || (st.mode & 0o7777) !== 0o755)) problems.push(`/${bin} must be root-owned 0755`);
  }
  const tmp = entries.get('tmp');
  if (tmp && (tmp.mode & 0o7777) !== 0o1777) problems.push(`/tmp mode ${(tmp.mode & 0o7777).toString(8)}, want 1777`);
  const work = entries.get(WORKDIR);
  if (work && work.uid !== UID) problems.push(`/${WORKDIR} owned by ${work.uid}, want ${UID}`);
  for (const [rel, st] of entries) {
    if (rel !== WORKDIR && st.uid !== 0) problems.push(`/${rel} owned by ${st.uid}: only /${WORKDIR} may belong to the user`);
    if (!st.isSymbolicLink() && rel !== 'tmp' && st.mode & 0o002) problems.push(`/${rel} is world-writable`);
  }
  const link = entries.get('usr/lib/ssl/cert.pem') && fs.readlinkSync(path.join(root, 'usr/lib/ssl/cert.pem'));
  if (link && link !== '/etc/ssl/certs/ca-certificates.crt') problems.push(`/usr/lib/ssl/cert.pem -> ${link}`);
  const passwd = entries.has('etc/passwd') ? fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8') : '';
  if (!new RegExp(`^nonroot:x:${UID}:${UID}:`, 'm').test(passwd)) problems.push(`/etc/passwd lacks nonroot ${UID}`);
  const group = entries.has('etc/group') ? fs.readFileSync(path.join(root, 'etc/group'), 'utf8') : '';
  if (!new RegExp(`^nonroot:x:${UID}:`, 'm').test(group)) problems.push(`/etc/group lacks nonroot ${UID}`);
  return problems;
}

function isElf(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    return fs.readSync(fd, b, 0, 4, 0) === 4 && b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Every ELF file's DT_NEEDED libraries and program interpreter must exist in the rootfs, in a
 * directory the dynamic loader searches by default (there is no ld.so.cache in the image).
 */
function neededProblems(root) {
  const problems = [];
  const entries = walk(root);
  const searchDirs = ['lib', 'usr/lib', 'lib64', 'usr/lib64'];
  for (const base of ['lib', 'usr/lib']) {
    for (const [rel, st] of entries) {
      if (st.isDirectory() && path.posix.dirname(rel) === base && /-linux-gnu/.test(rel)) searchDirs.unshift(rel);
    }
  }
  let elves = 0;
  for (const [rel, st] of entries) {
    if (!st.isFile() || !isElf(path.join(root, rel))) continue;
    elves++;
    const dyn = sh('readelf', ['--dynamic', path.join(root, rel)]).stdout;
    for (const m of dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)) {
      if (!searchDirs.some((d) => fs.existsSync(path.join(root, d, m[1])))) problems.push(`/${rel} needs ${m[1]}: not in the rootfs`);
    }
    const interp = /Requesting program interpreter: (\S+)\]/.exec(sh('readelf', ['--program-headers', path.join(root, rel)]).stdout);
    if (interp && !fs.existsSync(path.join(root, interp[1]))) problems.push(`/${rel} needs its loader ${interp[1]}: not in the rootfs`);
  }
  if (elves < 3) problems.push(`only ${elves} ELF files: the staging lost the binaries or libraries`);
  return problems;
}

// What a container runtime gives the process: /proc (ASan builds read /proc/self/maps), a /dev
// with the usual devices, the image read-only (compose read_only, Kubernetes
// readOnlyRootFilesystem), and a writable volume at the working directory. All mounts live in a
// private mount namespace (unshare's default propagation is private) and vanish with it.
const RUNTIME = `set -eu
root=$0 volume=$1
shift
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
mount --bind /proc "$root/proc"
mount -t tmpfs -o mode=0755,nosuid,size=64k tmpfs "$root/dev"
for d in null zero random urandom; do
  : > "$root/dev/$d"
  mount --bind "/dev/$d" "$root/dev/$d"
done
if [ -n "$volume" ]; then mount --bind "$volume" "$root/${WORKDIR}"; fi
chroot=$(command -v chroot)
# The image's PATH, not the host's.
export PATH=/usr/local/bin
exec "$chroot" --userspec=${UID}:${UID} "$root" "$@"`;

/** A rootfs ready to run: the staged tree plus the mount points the runtime mounts over. */
function runnable(root) {
  for (const d of ['proc', 'dev']) fs.mkdirSync(path.join(root, d), { recursive: true });
  return root;
}

function runtimeEnv(extra = {}) {
  // An image's process sees only the image's ENV and the runtime's: nothing from the host, except
  // the sanitizer settings ctest gives an ASan build.
  const env = { PATH: process.env.PATH };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) if (process.env[k]) env[k] = process.env[k];
  return { ...env, ...extra };
}

function runIn(root, argv, { volume = '', env = {} } = {}) {
  return sh('unshare', ['--mount', '--', '/bin/sh', '-c', RUNTIME, root, volume, ...argv], { env: runtimeEnv(env) });
}

function startIn(root, argv, { volume = '', env = {} } = {}) {
  const p = spawn('unshare', ['--mount', '--', '/bin/sh', '-c', RUNTIME, root, volume, ...argv], {
    env: runtimeEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  p.stderrText = '';
  p.stderr.on('data', (d) => (p.stderrText += d));
  p.exited = new Promise((resolve) => p.on('close', (status, signal) => resolve({ status, signal })));
  return p;
}

async function waitFor(fn, { timeoutMs = RUN_TIMEOUT_MS, what }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function coapPost(uri, body) {
  return new Promise((resolve, reject) => {
    const p = spawn('coap-client-notls', ['-v', '6', '-B', '5', '-m', 'post', '-t', '50', '-e', body, uri], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', () => {
      const codes = [...out.matchAll(/\bc:(\d\.\d\d)\b/g)].map((m) => m[1]);
      resolve({ code: codes.at(-1), out });
    });
  });
}

describe('image root filesystem (ci/docker/rootfs.sh, run under chroot)', { skip: SKIP_ROOTFS }, () => {
  let bins;
  let libs;
  let root;

  before(() => {
    bins = binaries();
    libs = expectedLibraries(Object.values(bins));
    root = stage(path.join(tmpRoot, 'rootfs'), Object.values(bins));
  });

  it('rootfs.sh passes shellcheck, and shellcheck catches a broken copy', () => {
    const ok = sh('shellcheck', [ROOTFS_SH]);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const broken = path.join(tmpRoot, 'broken-rootfs.sh');
    fs.writeFileSync(broken, fs.readFileSync(ROOTFS_SH, 'utf8').replace('mkdir -p "$dest"', 'mkdir -p $dest'));
    assert.notEqual(sh('shellcheck', [broken]).status, 0, 'shellcheck did not flag an unquoted expansion');
  });

  it('holds exactly the binaries, their libraries, the loader, users, CA bundle, /tmp and the work dir', () => {
    assert.deepEqual(layoutProblems(root, libs), []);
    assert.ok([...libs].some((l) => /ld-linux/.test(l)), `no dynamic loader among ${[...libs].join(', ')}`);
  });

  it('the layout check catches a shell, a package manager, a stray file and a wrong owner', () => {
    const copy = path.join(tmpRoot, 'layout-mutant');
    sh('cp', ['-a', root, copy]);
    fs.mkdirSync(path.join(copy, 'bin'));
    fs.copyFileSync('/bin/sh', path.join(copy, 'bin/sh'));
    fs.mkdirSync(path.join(copy, 'var/lib/dpkg'));
    fs.writeFileSync(path.join(copy, 'etc/motd'), 'hi\n');
    fs.chownSync(path.join(copy, 'usr/local/bin/iotc'), UID, UID);
    fs.rmSync(path.join(copy, 'etc/ssl/certs/ca-certificates.crt'));
    const problems = layoutProblems(copy, libs).join('\n');
    for (const want of ['forbidden: /bin/sh', 'forbidden: /var/lib/dpkg', 'unexpected file: /etc/motd', '/usr/local/bin/iotc must be root-owned', 'missing: /etc/ssl/certs/ca-certificates.crt']) {
      assert.match(problems, new RegExp(want.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')), `not caught: ${want}\n${problems}`);
    }
  });

  it("every ELF file's needed libraries and loader are in the rootfs", () => {
    assert.deepEqual(neededProblems(root), []);
    // The loader's own view (what ldd prints), from inside the image.
    const loader = [...libs].find((l) => /ld-linux/.test(l));
    for (const bin of ['/usr/local/bin/iot-collector', '/usr/local/bin/iotc']) {
      const r = runIn(runnable(root), [`/${loader}`, '--list', bin]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout, /not found/);
    }
  });

  it('starts as user 65532: --version', () => {
    const r = runIn(runnable(root), ['/usr/local/bin/iot-collector', '--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^iot-collector \d+\.\d+\.\d+/);
    const c = runIn(root, ['/usr/local/bin/iotc', '--version']);
    assert.equal(c.status, 0, c.stderr);
  });

  it('a rootfs missing one needed library is caught, and its binary cannot start', () => {
    const copy = path.join(tmpRoot, 'lib-mutant');
    sh('cp', ['-a', root, copy]);
    const needed = [...sh('readelf', ['--dynamic', bins['iot-collector']]).stdout.matchAll(/Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
    const victimName = needed.find((n) => !/^(libc|libm|libstdc\+\+|libgcc_s)\.so/.test(n));
    assert.ok(victimName, `no removable library among ${needed.join(', ')}`);
    const victim = [...libs].find((l) => path.posix.basename(l) === victimName);
    fs.rmSync(path.join(copy, victim));
    assert.match(neededProblems(copy).join('\n'), new RegExp(`needs ${victimName.replace(/[.+]/g, '\\$&')}`));
    const r = runIn(runnable(copy), ['/usr/local/bin/iot-collector', '--version']);
    assert.notEqual(r.status, 0, 'the collector started without a library it needs');
    assert.match(r.stderr, /error while loading shared libraries/);
  });

  describe('the collector running in the image', () => {
    let proc;
    let volume;
    let ready;

    before(async () => {
      volume = path.join(tmpRoot, 'volume');
      fs.mkdirSync(volume, { mode: 0o750 });
      fs.chownSync(volume, UID, UID);
      proc = startIn(runnable(root), [
        '/usr/local/bin/iot-collector',
        '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0',
        '--log-format', 'json', '--threads', '1', '--instance', 'image-test',
        // The image's WORKDIR: chroot starts in /, the image in its working directory.
        '--sink', `file:/${WORKDIR}/data/events.ndjson`,
      ], { volume });
      ready = await waitFor(async () => {
        for (const line of proc.stderrText.split('\n')) {
          try {
            const l = JSON.parse(line);
            if (l.msg === 'ready') return l;
          } catch {
            // not a complete JSON line yet
          }
        }
        if (proc.exitCode !== null) throw new Error(`collector exited before ready:\n${proc.stderrText}`);
        return null;
      }, { what: 'the "ready" log line' });
    });

    after(async () => {
      if (proc && proc.exitCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), RUN_TIMEOUT_MS);
        await proc.exited;
        clearTimeout(t);
      }
    });

    it('stores an event POSTed from the host: 2.01, written on the volume as user 65532', async () => {
      const event = JSON.stringify({ sender: 'image-test', origin: 'chroot', payload: { type: 'temperature', value: 21.5, unit: 'C' } });
      const r = await coapPost(`coap://${ready.coap}/events`, event);
      assert.equal(r.code, '2.01', r.out);
      const file = path.join(volume, 'data/events.ndjson');
      const stored = fs.readFileSync(file, 'utf8');
      assert.match(stored, /"sender":"image-test"/);
      assert.equal(fs.statSync(file).uid, UID);
    });

    it('iotc probe inside the image: /readyz exits 0, a closed port exits 1', () => {
      const ok = runIn(root, ['/usr/local/bin/iotc', 'probe', `http://${ready.admin}/readyz`]);
      assert.equal(ok.status, 0, `iotc probe /readyz: ${ok.stdout}${ok.stderr}`);
      const notFound = runIn(root, ['/usr/local/bin/iotc', 'probe', `http://${ready.admin}/no-such-path`]);
      assert.equal(notFound.status, 1, `probe of a 404: ${notFound.stdout}${notFound.stderr}`);
      const closed = runIn(root, ['/usr/local/bin/iotc', 'probe', '--timeout-ms', '1000', 'http://127.0.0.1:1/readyz']);
      assert.equal(closed.status, 1, `probe of a closed port: ${closed.stdout}${closed.stderr}`);
    });

    it('the image is read-only to its user outside the volume', () => {
      const r = runIn(root, ['/usr/local/bin/iot-collector', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--sink', 'file:/tmp/data/events.ndjson']);
      assert.equal(r.status, 1, `a sink on the read-only root must fail start-up:\n${r.stderr}`);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Dockerfile lint

/** Parses a Dockerfile into stages of { keyword, args, line }; continuation lines joined. */
export function parseDockerfile(text) {
  const instructions = [];
  let current = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\s+$/, '');
    if (!current && (/^\s*#/.test(line) || line.trim() === '')) return;
    if (current && /^\s*#/.test(line)) return; // comments inside a continued instruction
    const continued = line.endsWith('\\');
    const body = continued ? line.slice(0, -1) : line;
    if (current) current.text += ` ${body.trim()}`;
    else current = { text: body.trim(), line: i + 1 };
    if (!continued) {
      const m = /^(\S+)\s*(.*)$/.exec(current.text);
      instructions.push({ keyword: m[1].toUpperCase(), args: m[2].trim(), line: current.line });
      current = null;
    }
  });
  const stages = [];
  const globalArgs = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      stages.push({ image: m?.[1], name: m?.[2], instructions: [] });
    } else if (stages.length) stages.at(-1).instructions.push(ins);
    else globalArgs.push(ins);
  }
  return { instructions, stages, globalArgs };
}

function execForm(args) {
  try {
    const v = JSON.parse(args);
    return Array.isArray(v) && v.every((s) => typeof s === 'string') ? v : null;
  } catch {
    return null;
  }
}

/** Problems with the image's Dockerfile; [] when it follows the rules of issue 5. */
export function lintDockerfile(text) {
  const problems = [];
  const { instructions, stages } = parseDockerfile(text);
  if (stages.length < 2) problems.push('not multi-stage');
  const final = stages.at(-1);
  if (!final || final.image !== 'scratch') problems.push(`final stage is FROM ${final?.image}, want scratch`);
  for (const s of stages.slice(0, -1)) {
    if (!s.name) problems.push(`build stage FROM ${s.image} has no AS name`);
    if (/:latest$/.test(s.image ?? '') || !/[:@$]/.test(s.image ?? '')) problems.push(`FROM ${s.image}: pin a tag`);
  }
  for (const ins of instructions) {
    if (ins.keyword === 'ADD' && /\b(https?|ftp|git):\/\/|git@/.test(ins.args)) problems.push(`line ${ins.line}: ADD of a URL`);
    if (ins.keyword === 'MAINTAINER') problems.push(`line ${ins.line}: MAINTAINER is deprecated`);
  }
  const buildNames = new Set(stages.slice(0, -1).map((s) => s.name));
  const buildRuns = stages.slice(0, -1).flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args)).join('\n');
  if (!/rootfs\.sh\s+\/rootfs\b/.test(buildRuns)) problems.push('no build stage runs ci/docker/rootfs.sh /rootfs');
  if (!/--target\s+iot-collector\s+iotc|IOT_BUILD_TESTS=OFF/.test(buildRuns)) problems.push('the build stage builds more than the two targets');
  const f = final?.instructions ?? [];
  const all = (k) => f.filter((i) => i.keyword === k);
  const last = (k) => all(k).at(-1);
  if (f.some((i) => i.keyword === 'RUN')) problems.push('RUN in the final stage (scratch has no shell)');
  const copies = all('COPY');
  if (!copies.some((c) => new RegExp(`--from=(${[...buildNames].join('|')})\\s+/rootfs/?\\s+/$`).test(c.args))) problems.push('final stage does not COPY --from=<build> /rootfs /');
  const user = last('USER')?.args;
  const um = /^(\d+)(?::(\d+))?$/.exec(user ?? '');
  if (!um) problems.push(`USER ${user}: want numeric uid:gid`);
  else if (Number(um[1]) === 0 || Number(um[2] ?? 1) === 0) problems.push(`USER ${user}: runs as root`);
  const hc = last('HEALTHCHECK')?.args ?? '';
  const hcCmd = execForm(hc.replace(/^(--\S+\s+)*CMD\s+/, ''));
  if (!hcCmd) problems.push('HEALTHCHECK missing or not in exec form (no shell in the image)');
  else if (hcCmd[0] !== '/usr/local/bin/iotc' || hcCmd[1] !== 'probe' || !hcCmd.some((a) => /^http:\/\/127\.0\.0\.1:8080\/readyz$/.test(a))) problems.push(`HEALTHCHECK ${hcCmd.join(' ')}: want iotc probe http://127.0.0.1:8080/readyz`);
  const ep = execForm(last('ENTRYPOINT')?.args ?? '');
  if (!ep || ep.length !== 1 || ep[0] !== '/usr/local/bin/iot-collector') problems.push('ENTRYPOINT must be ["/usr/local/bin/iot-collector"]');
  const exposed = all('EXPOSE').flatMap((i) => i.args.split(/\s+/));
  if (!exposed.includes('5683/udp')) problems.push('EXPOSE 5683/udp missing');
  if (!exposed.some((p) => p === '8080' || p === '8080/tcp')) problems.push('EXPOSE 8080/tcp missing');
  const labels = all('LABEL').map((i) => i.args).join(' ');
  for (const k of ['title', 'description', 'source', 'licenses', 'version', 'revision']) {
    if (!new RegExp(`org\\.opencontainers\\.image\\.${k}=`).test(labels)) problems.push(`label org.opencontainers.image.${k} missing`);
  }
  const finalArgs = all('ARG').map((i) => i.args.split('=')[0]);
  for (const [label, arg] of [['version', 'VERSION'], ['revision', 'REVISION']]) {
    if (!finalArgs.includes(arg) || !new RegExp(`image\\.${label}="?\\$\\{?${arg}\\b`).test(labels)) problems.push(`label ${label} must come from ARG ${arg}`);
  }
  const env = all('ENV').map((i) => i.args).join(' ');
  if (!/IOT_COLLECTOR_LISTEN=0\.0\.0\.0:5683\b/.test(env)) problems.push('ENV IOT_COLLECTOR_LISTEN=0.0.0.0:5683 missing');
  if (!/IOT_COLLECTOR_ADMIN_LISTEN=0\.0\.0\.0:8080\b/.test(env)) problems.push('ENV IOT_COLLECTOR_ADMIN_LISTEN=0.0.0.0:8080 missing');
  return problems;
}

describe('ci/docker/Dockerfile', () => {
  const text = fs.readFileSync(DOCKERFILE, 'utf8');

  it('follows the rules: multi-stage, scratch, numeric non-root user, health check, labels, ports', () => {
    assert.deepEqual(lintDockerfile(text), []);
  });

  const mutants = [
    ['final stage not scratch', (t) => t.replace(/^FROM scratch$/m, 'FROM debian:12'), /want scratch/],
    ['root user', (t) => t.replace(/^USER .*$/m, 'USER 0:0'), /runs as root/],
    ['named user', (t) => t.replace(/^USER .*$/m, 'USER nonroot'), /want numeric/],
    ['no health check', (t) => t.replace(/^HEALTHCHECK[^]*?readyz"\]\n/m, ''), /HEALTHCHECK missing/],
    ['shell-form health check', (t) => t.replace(/CMD \[.*readyz"\]/, 'CMD curl -f http://127.0.0.1:8080/readyz'), /HEALTHCHECK missing or not in exec form/],
    ['ADD of a URL', (t) => t.replace(/^FROM scratch$/m, 'FROM scratch\nADD https://example.com/x.tgz /x'), /ADD of a URL/],
    ['TCP-only CoAP port', (t) => t.replace('5683/udp', '5683'), /EXPOSE 5683\/udp missing/],
    ['missing revision label', (t) => t.replace(/\s*\\\n\s*org\.opencontainers\.image\.revision=[^\n]*/, ''), /image\.revision missing/],
    ['single stage', (t) => t.replace(/^FROM \$\{DEBIAN_IMAGE\} AS build$/m, '').replace(/--from=build /g, ''), /not multi-stage|COPY --from/],
    ['no listen default', (t) => t.replace('IOT_COLLECTOR_LISTEN=0.0.0.0:5683', 'X=1'), /IOT_COLLECTOR_LISTEN/],
  ];
  for (const [name, mutate, want] of mutants) {
    it(`the lint catches: ${name}`, () => {
      const mutated = mutate(text);
      assert.notEqual(mutated, text, `mutation "${name}" did not apply: update the test`);
      assert.match(lintDockerfile(mutated).join('\n'), want);
    });
  }

  it('every context path it COPYs exists and is not excluded by Dockerfile.dockerignore', () => {
    const ignore = fs.readFileSync(DOCKERIGNORE, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const want of ['build/', '.git/', 'node_modules/', '**/node_modules/']) assert.ok(ignore.includes(want), `${want} not ignored`);
    const { stages } = parseDockerfile(text);
    const sources = stages.flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))
      .flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1));
    assert.ok(sources.length >= 3);
    for (const src of sources) {
      assert.ok(fs.existsSync(path.join(SOURCE_DIR, src)), `COPY source ${src} does not exist`);
      const top = src.replace(/\/$/, '').split('/')[0];
      assert.ok(!ignore.some((p) => p.replace(/\/$/, '') === top), `COPY source ${src} is excluded by the ignore file`);
    }
  });
});
