import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, maximum, noiseDecision, othersTicks, saturated, keepsUp, histogramBuckets, bucketDelta, bucketQuantile, bucketShareAtMost } from './stats.mjs';

test('median of odd and even counts, ignoring what is not a finite number', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([5]), 5);
  assert.equal(median([]), null);
  assert.equal(median([null, NaN, 7, undefined]), 7);
  assert.equal(median([10, 2, 33]), 10); // numerically, not as strings
});

test('maximum of the finite numbers, null when there are none', () => {
  assert.equal(maximum([3, 10, 2]), 10);
  assert.equal(maximum([null, 5, undefined, NaN]), 5);
  assert.equal(maximum([null, null]), null);
  assert.equal(maximum([]), null);
});

test('others: deltas of everyone but us, new processes whole, ended ones only for their time in the run', () => {
  const before = new Map([[1, 100], [10, 5000], [20, 300], [30, 40]]);
  // pid 10 is ours; 1 grew by 4; 30 (40 ticks before the run) ended at 55 and was reaped by 20,
  // whose reaped-children ticks grew by those 55 plus 10 of its own; 40 is new (25).
  const after = new Map([[1, 104], [10, 9000], [20, 365], [40, 25]]);
  assert.equal(othersTicks(before, after, new Set([10])), 4 + 65 - 40 + 25);
  // Our own ended processes are ignored either way.
  assert.equal(othersTicks(new Map([[10, 70]]), new Map(), new Set([10])), 0);
  // A pid whose counters went down was reused by a new process: never negative.
  assert.equal(othersTicks(new Map([[5, 900]]), new Map([[5, 3]]), new Set()), 0);
});

test('noise: more than a tenth of a core used by others over the run', () => {
  let d = noiseDecision({ otherSeconds: 0.2, wallSeconds: 3 });
  assert.equal(d.noisy, false);
  assert.ok(Math.abs(d.otherCores - 0.2 / 3) < 1e-9);
  d = noiseDecision({ otherSeconds: 0.5, wallSeconds: 3 });
  assert.equal(d.noisy, true);
  assert.deepEqual(noiseDecision({ otherSeconds: 0, wallSeconds: 3 }), { noisy: false, otherCores: 0 });
  assert.equal(noiseDecision({ otherSeconds: 0.2, wallSeconds: 3, limit: 0.05 }).noisy, true);
});

test('iotc saturated at 95 % of its cores', () => {
  assert.equal(saturated(2.85, 3), true);
  assert.equal(saturated(2.8, 3), false);
  assert.equal(saturated(5.8, 3, 2), true);
});

test('a sweep step keeps up with 99 % answered and p99 within 100 ms', () => {
  assert.equal(keepsUp({ answeredFraction: 0.99, p99Ms: 100 }), true);
  assert.equal(keepsUp({ answeredFraction: 0.989, p99Ms: 1 }), false);
  assert.equal(keepsUp({ answeredFraction: 1, p99Ms: 100.5 }), false);
  assert.equal(keepsUp({ answeredFraction: 1, p99Ms: null }), false);
});

test('histogram buckets from /metrics text: the delta of two scrapes, its quantiles and its share under a bound', () => {
  const scrape = (counts) =>
    ['# HELP w x', '# TYPE w histogram', ...[['0.0001', counts[0]], ['0.00025', counts[1]], ['0.001', counts[2]], ['+Inf', counts[3]]].map(([le, n]) => `w_bucket{le="${le}"} ${n}`), `w_sum 1`, `w_count ${counts[3]}`, 'other_bucket{le="0.0001"} 999'].join('\n');
  const before = histogramBuckets(scrape([10, 10, 10, 10]), 'w');
  assert.deepEqual(before.map((b) => b.le), [0.0001, 0.00025, 0.001, Infinity]);
  // Between the scrapes: 90 observations ≤ 0.1 ms, 8 in (0.1, 0.25] ms, 2 in (0.25, 1] ms.
  const run = bucketDelta(before, histogramBuckets(scrape([100, 108, 110, 110]), 'w'));
  assert.deepEqual(run.map((b) => b.count), [90, 98, 100, 100]);
  assert.equal(bucketShareAtMost(run, 0.00025), 0.98);
  assert.ok(Math.abs(bucketQuantile(run, 0.5) - 0.0001 * (50 / 90)) < 1e-12, 'interpolated in the first bucket');
  assert.ok(Math.abs(bucketQuantile(run, 0.99) - (0.00025 + 0.00075 * 0.5)) < 1e-12, 'rank 99 is half-way into (0.25, 1] ms');
  assert.equal(bucketQuantile(bucketDelta(before, before), 0.99), null, 'nothing observed');
  assert.equal(bucketShareAtMost(run, 0.0005), null, 'not a bound');
  assert.equal(bucketQuantile([{ le: 0.001, count: 1 }, { le: Infinity, count: 10 }], 0.99), 0.001, 'beyond the last bound: that bound');
  assert.deepEqual(histogramBuckets('nothing here', 'w'), []);
});
