// Admin HTTP helpers: GET with a deadline and a Prometheus text-format parser.
import http from 'node:http';

export function httpGet(url, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * Parse Prometheus text exposition into [{name, labels:{...}, value}] (comments skipped).
 */
export function parseMetrics(text) {
  const samples = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels = {};
    if (m[3]) {
      const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;
      let lm;
      let consumed = 0;
      while ((lm = re.exec(m[3])) !== null) {
        labels[lm[1]] = lm[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        consumed = re.lastIndex;
      }
      if (m[3].slice(consumed).trim() !== '') throw new Error(`unparsable labels in: ${line}`);
    }
    samples.push({ name: m[1], labels, value: Number(m[4]), line });
  }
  return samples;
}

/** Value of the sample with this name whose labels include `labels` (undefined if none). */
export function metricValue(samples, name, labels = {}) {
  const matching = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matching.length === 0) return undefined;
  if (matching.length > 1 && Object.keys(labels).length === Object.keys(matching[0].labels).length) return matching[0].value;
  return matching.reduce((a, s) => a + s.value, 0);
}

export async function scrape(collector) {
  const r = await httpGet(collector.adminUrl('/metrics'));
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return { ...r, samples: parseMetrics(r.body) };
}
