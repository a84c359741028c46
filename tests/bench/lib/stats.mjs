// Small pure statistics and decisions, kept apart so they can be unit-tested.

/** Median of the finite numbers in xs; null when there are none. */
export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
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
