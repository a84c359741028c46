// Readers for /proc: the CPU and memory of one process, the CPU of the whole machine, and the
// kernel's UDP drop counters. Parsers are pure (text in, numbers out) so they can be unit-tested.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Clock ticks per second for /proc CPU times (sysconf(_SC_CLK_TCK); 100 on every Linux we know). */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * /proc/PID/stat → {utime, stime, cutime, cstime} in ticks. The command name (field 2) is in
 * parentheses and may itself contain spaces and parentheses, so fields are counted after the
 * last ')'.
 */
export function parsePidStat(text) {
  const rest = text.slice(text.lastIndexOf(')') + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state); utime is field 14 → rest[11].
  const field = (n) => Number(rest[n - 3]);
  return { ppid: field(4), utime: field(14), stime: field(15), cutime: field(16), cstime: field(17) };
}

/**
 * CPU ticks (own and reaped children's) of every user-space process: pid → ticks. Kernel
 * threads (children of kthreadd, pid 2) are left out: in this benchmark they are mostly
 * softirq and socket work done for our own traffic.
 */
export function processTable() {
  const table = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const text = readOr(`/proc/${name}/stat`, null);
    if (text === null) continue; // exited meanwhile
    const s = parsePidStat(text);
    if (name === '2' || s.ppid === 2) continue;
    table.set(Number(name), s.utime + s.stime + s.cutime + s.cstime);
  }
  return table;
}

/** A "Key:   N kB" line of /proc/PID/status (VmHWM: peak resident set, VmRSS: now), in bytes; null if absent (zombie). */
export function parseStatusBytes(text, key) {
  const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

/**
 * /proc/stat → {busy, total} ticks summed over all CPUs (the aggregate "cpu" line). Busy is
 * everything but idle and iowait; guest time is already inside user/nice, so it is not added.
 */
export function parseProcStat(text) {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + (steal || 0);
  return { busy, total: busy + idle + iowait, steal: steal || 0 };
}

/**
 * /proc/net/snmp (the "Udp:" header/value line pair) and /proc/net/snmp6 ("Udp6InErrors  N"
 * lines) → {inErrors, rcvbufErrors} summed over IPv4 and IPv6. InErrors includes RcvbufErrors.
 */
export function parseUdpCounters(snmp, snmp6 = '') {
  const lines = snmp.split('\n').filter((l) => l.startsWith('Udp: '));
  const names = lines[0].trim().split(/\s+/).slice(1);
  const values = lines[1].trim().split(/\s+/).slice(1).map(Number);
  const v4 = Object.fromEntries(names.map((n, i) => [n, values[i]]));
  const v6 = {};
  for (const l of snmp6.split('\n')) {
    const m = /^Udp6(\w+)\s+(\d+)/.exec(l);
    if (m) v6[m[1]] = Number(m[2]);
  }
  return {
    inErrors: (v4.InErrors || 0) + (v6.InErrors || 0),
    rcvbufErrors: (v4.RcvbufErrors || 0) + (v6.RcvbufErrors || 0),
  };
}

const readOr = (path, fallback) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
};

/** CPU seconds (user + system) of a live process, or null once it is gone. */
export function processCpuSeconds(pid) {
  const text = readOr(`/proc/${pid}/stat`, null);
  if (text === null) return null;
  const s = parsePidStat(text);
  return (s.utime + s.stime) / CLK_TCK;
}

const statusBytes = (pid, key) => {
  const text = readOr(`/proc/${pid}/status`, null);
  return text === null ? null : parseStatusBytes(text, key);
};
export const peakRss = (pid) => statusBytes(pid, 'VmHWM');
export const currentRss = (pid) => statusBytes(pid, 'VmRSS');

export const machineCpu = () => parseProcStat(readFileSync('/proc/stat', 'utf8'));
export const udpCounters = () => parseUdpCounters(readFileSync('/proc/net/snmp', 'utf8'), readOr('/proc/net/snmp6', ''));

/** This harness's own CPU seconds (it runs while the load does, so it is "ours", not noise). */
export function selfCpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
