// Small pure statistics and decisions, kept apart so they can be unit-tested.

/** Median of the finite numbers in xs; null when there are none. */
export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Largest of the finite numbers in xs; null when there are none. */
export function maximum(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  return v.length ? Math.max(...v) : null;
}

/**
 * CPU ticks other processes used between two process tables (pid → own + reaped children's
 * ticks), leaving out `ours`. A process that appeared meanwhile counts whole. One that ended
 * shows up again in its parent's reaped-children ticks with its whole life, so what it had
 * used before the run is taken off again.
 */
export function othersTicks(before, after, ours) {
  let ticks = 0;
  for (const [pid, t] of after) {
    if (!ours.has(pid)) ticks += Math.max(0, t - (before.get(pid) ?? 0));
  }
  for (const [pid, t] of before) {
    if (!ours.has(pid) && !after.has(pid)) ticks -= t;
  }
  return Math.max(0, ticks);
}

/**
 * Was a run disturbed? Other processes used `otherSeconds` of CPU over `wallSeconds`; above
 * `limit` of one core the figures can't be trusted. Returns {noisy, otherCores}.
 */
export function noiseDecision({ otherSeconds, wallSeconds, limit = 0.1 }) {
  const otherCores = Math.max(0, otherSeconds) / wallSeconds;
  return { noisy: otherCores > limit, otherCores };
}

/** The load generator is saturated (the figure is its limit, not the server's) at ≥ 95 % of its core(s). */
export const saturated = (cpuSeconds, wallSeconds, cores = 1) => cpuSeconds / wallSeconds >= 0.95 * cores;

/**
 * Open-loop sweep: a server keeps up at a rate when it answered at least 99 % of the requests
 * and its p99 stayed within 100 ms.
 */
export const keepsUp = ({ answeredFraction, p99Ms }) => answeredFraction >= 0.99 && p99Ms !== null && p99Ms <= 100;

/**
 * The cumulative buckets of Prometheus histogram `name` in a /metrics text, in bound order:
 * [{le, count}], +Inf as Infinity. Empty when the family is not there.
 */
export function histogramBuckets(metricsText, name) {
  const pattern = new RegExp(`^${name}_bucket\\{(?:[^}]*,)?le="([^"]+)"[^}]*\\}\\s+(\\S+)`, 'gm');
  return [...metricsText.matchAll(pattern)].map((m) => ({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), count: Number(m[2]) })).sort((a, b) => a.le - b.le);
}

/** What was observed between two scrapes: after − before, bucket by bucket. */
export const bucketDelta = (before, after) => after.map((b, i) => ({ le: b.le, count: b.count - (before[i]?.le === b.le ? before[i].count : 0) }));

/**
 * The q-quantile (0..1) of cumulative buckets, interpolated linearly within its bucket as
 * Prometheus' histogram_quantile does; the highest finite bound when it falls beyond; null
 * without observations.
 */
export function bucketQuantile(buckets, q) {
  const total = buckets.at(-1)?.count ?? 0;
  if (!(total > 0)) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const b of buckets) {
    if (b.count >= rank) return Number.isFinite(b.le) ? lower + ((b.le - lower) * (rank - below)) / Math.max(b.count - below, 1) : lower;
    lower = b.le;
    below = b.count;
  }
  return lower;
}

/** The share of observations at or below `bound`, which must be one of the buckets' bounds. */
export function bucketShareAtMost(buckets, bound) {
  const total = buckets.at(-1)?.count ?? 0;
  const at = buckets.find((b) => b.le === bound);
  return total > 0 && at ? at.count / total : null;
}
