// --profile: perf record (cpu-clock: the only event this VM's perf can count) of the collector at
// full load, summarised by shared object and by the part of the collector a symbol belongs to.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { start } from './processes.mjs';

// Order matters: the first match wins. Symbols are matched without their template arguments,
// which name unrelated types (a bulk encoder templated on boost::json is still the encoder).
const CATEGORIES = [
  ['kernel (syscalls, UDP, scheduling)', (dso) => /kernel|vmlinux/.test(dso)],
  ['clock (vdso)', (dso) => dso === '[vdso]'],
  ['libc', (dso) => /^libc[.-]|ld-linux|libstdc\+\+|libm[.-]|libgcc/.test(dso)],
  ['CoAP engine (libcoap, coap::)', (dso, sym) => /libcoap/.test(dso) || /\bcoap_|coap::|Block1|exchange/i.test(sym)],
  ['bulk encode (NDJSON, _id hash)', (dso, sym) => /xxhash/.test(dso) || /append_bulk|append_serialized|bulk_|XXH|xxh|write_rfc3339|encode/i.test(sym)],
  ['JSON parse / validate', (dso, sym) => /boost_json/.test(dso) || /boost::json|json::|EventValidator|validat|parse/i.test(sym)],
  ['sink (file, Elasticsearch writer)', (dso, sym) => /FileStore|EventStore|BulkWriter|sink|HttpClient/i.test(sym)],
  ['Asio / event loop', (dso, sym) => /asio|io_context|epoll|scheduler/i.test(sym)],
  ['metrics, logging', (dso, sym) => /metrics|Counter|Histogram|spdlog/i.test(sym)],
  ['other (collector)', (dso) => /iot-collector/.test(dso)],
  ['other', () => true],
];
export const categorise = (dso, sym) => {
  const name = shortSymbol(sym);
  return CATEGORIES.find(([, test]) => test(dso, name))[0];
};

/** A C++ symbol without its template arguments, which make up most of its length. */
export function shortSymbol(sym) {
  let out = '';
  let depth = 0;
  for (const ch of sym) {
    if (ch === '<') {
      if (depth++ === 0) out += '<…>';
    } else if (ch === '>') depth = Math.max(0, depth - 1);
    else if (depth === 0) out += ch;
  }
  return out;
}

/** perf report --stdio lines "  12.34%  dso  [.] symbol" → [{pct, dso, sym}]. */
export function parsePerfReport(text) {
  const rows = [];
  for (const line of text.split('\n')) {
    const m = /^\s+([\d.]+)%\s+(\S+)\s+\[([.k])\]\s+(.*)$/.exec(line);
    if (m) rows.push({ pct: Number(m[1]), dso: m[3] === 'k' ? '[kernel.kallsyms]' : m[2], sym: m[4].trim() });
  }
  return rows;
}

/** Record the collector (pid) for `seconds` while `load()` keeps it at full load. */
export async function profileCollector({ pid, seconds, tmp, load }) {
  const data = join(tmp, 'perf.data');
  const perf = start('perf', ['record', '-e', 'cpu-clock', '-g', '-o', data, '-p', String(pid), '--', 'sleep', String(seconds)], { name: 'perf' });
  const [result] = await Promise.all([perf.exited, load()]);
  if (result.code !== 0) throw new Error(`perf record failed: ${perf.describe()}`);
  const report = execFileSync('perf', ['report', '-i', data, '--stdio', '--no-children', '--sort', 'dso,sym', '-g', 'none', '--percent-limit', '0.05'], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120000, stdio: ['ignore', 'pipe', 'ignore'] });
  const rows = parsePerfReport(report);
  const sumBy = (key) => {
    const m = new Map();
    for (const r of rows) m.set(key(r), (m.get(key(r)) ?? 0) + r.pct);
    return [...m].sort((a, b) => b[1] - a[1]);
  };
  return {
    byDso: sumBy((r) => r.dso),
    byCategory: sumBy((r) => categorise(r.dso, r.sym)),
    top: rows.slice().sort((a, b) => b.pct - a.pct).slice(0, 25).map((r) => ({ ...r, category: categorise(r.dso, r.sym) })),
  };
}
