// Every process the harness starts goes through here, so that all of them are killed when the
// harness exits: normally, on Ctrl-C/SIGTERM, or on an uncaught failure. Each child gets its own
// process group (detached), and is killed as a group, so wrappers (sh, taskset) and whatever
// they started go with it.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const live = new Map(); // child → its exit promise

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** SIGKILL every live child; resolves once they are reaped (at most 2 s), so none is left a zombie. */
export function killAll() {
  const exits = [...live.values()];
  for (const child of live.keys()) killGroup(child, 'SIGKILL');
  let timer;
  return Promise.race([Promise.all(exits), new Promise((r) => (timer = setTimeout(r, 2000)))]).finally(() => clearTimeout(timer));
}

process.on('exit', killAll); // last resort (synchronous: kills, cannot wait)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, async () => {
    await killAll();
    process.stderr.write(`\nbench: ${signal}, stopped every process it started\n`);
    process.exit(130);
  });
}

/** taskset prefix for pinning to `cpus` (e.g. "0" or "2,3"); none when pinning is off. */
export const pinned = (cpus, command, args) => (cpus === null ? [command, args] : ['taskset', ['-c', String(cpus), command, ...args]]);

/**
 * Start a process. Returns a handle with the pid (the real program's: taskset execs it),
 * `line(regex, ms)` to wait for a stdout line, `exited` (a promise of {code, signal}) and
 * `stop(ms)` (SIGTERM, then SIGKILL after ms).
 */
export function start(command, args, { cpus = null, env, cwd, name = command } = {}) {
  const [cmd, argv] = pinned(cpus, command, args);
  const child = spawn(cmd, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, cwd });
  let markExited;
  live.set(child, new Promise((r) => (markExited = r)));
  const stderrTail = [];
  createInterface({ input: child.stderr }).on('line', (l) => {
    stderrTail.push(l);
    if (stderrTail.length > 20) stderrTail.shift();
  });
  const lines = [];
  const waiters = new Set();
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters) w();
  });
  // Set before the waiters run, so that a line() still waiting learns at once that no line will
  // come (set in a later .then(), they would wait out their whole time limit).
  let done = false;
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      markExited();
      done = true;
      for (const w of waiters) w();
      resolve({ code, signal });
    });
    child.on('error', (error) => {
      live.delete(child);
      markExited();
      stderrTail.push(String(error));
      done = true;
      for (const w of waiters) w();
      resolve({ code: -1, signal: null });
    });
  });
  const describe = () => `${name} (${[cmd, ...argv].join(' ')})${stderrTail.length ? `: ${stderrTail.slice(-5).join(' | ')}` : ''}`;

  return {
    name,
    get pid() {
      return child.pid;
    },
    get running() {
      return !done;
    },
    exited,
    describe,
    /** The first stdout line matching re, within ms; rejects if the process exits first. */
    line(re, ms) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find((l) => re.test(l));
          if (hit !== undefined) finish(null, hit);
          else if (done) finish(new Error(`${describe()} exited before printing ${re}`));
        };
        const timer = setTimeout(() => finish(new Error(`${describe()} printed no ${re} within ${ms} ms`)), ms);
        const finish = (err, value) => {
          clearTimeout(timer);
          waiters.delete(check);
          err ? reject(err) : resolve(value);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(ms = 5000) {
      if (done) return exited;
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), ms);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}
