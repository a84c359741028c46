import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePidStat, parseProcStat, parseStatusBytes, parseUdpCounters } from './procstat.mjs';

test('parsePidStat counts fields after the last parenthesis, whatever the command name holds', () => {
  const fields = ['S', '1', '2', '3', '0', '-1', '4194304', '100', '0', '0', '0', '250', '30', '7', '9', '20', '0', '1', '0', '12345'];
  for (const comm of ['iotc', 'a b', 'x) (y', ')']) {
    assert.deepEqual(parsePidStat(`4242 (${comm}) ${fields.join(' ')}\n`), { ppid: 1, utime: 250, stime: 30, cutime: 7, cstime: 9 });
  }
});

test('parseStatusBytes reads kB lines as bytes, null when absent', () => {
  const status = 'Name:\tiot-collector\nVmPeak:\t  200000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t   12000 kB\n';
  assert.equal(parseStatusBytes(status, 'VmHWM'), 12345 * 1024);
  assert.equal(parseStatusBytes(status, 'VmRSS'), 12000 * 1024);
  assert.equal(parseStatusBytes('Name:\tzombie\n', 'VmHWM'), null);
});

test('parseProcStat sums busy ticks of the aggregate line and leaves idle and iowait out', () => {
  const text = 'cpu  100 5 50 1000 20 3 7 11 0 0\ncpu0 50 2 25 500 10 1 3 5 0 0\nintr 1\n';
  assert.deepEqual(parseProcStat(text), { busy: 100 + 5 + 50 + 3 + 7 + 11, total: 176 + 1000 + 20, steal: 11 });
});

test('parseUdpCounters pairs the Udp header with its values and adds Udp6', () => {
  const snmp = [
    'Ip: Forwarding DefaultTTL',
    'Ip: 1 64',
    'Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors',
    'Udp: 7251430 10867 5227885 12503671 5227880 0 0 0 0',
    'UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors',
    'UdpLite: 0 0 99 0 99 0 0 0 0',
  ].join('\n');
  const snmp6 = 'Udp6InDatagrams                 \t592\nUdp6InErrors                    \t3\nUdp6RcvbufErrors                \t2\nUdpLite6InErrors                \t50\n';
  assert.deepEqual(parseUdpCounters(snmp, snmp6), { inErrors: 5227888, rcvbufErrors: 5227882 });
  assert.deepEqual(parseUdpCounters(snmp), { inErrors: 5227885, rcvbufErrors: 5227880 });
});
