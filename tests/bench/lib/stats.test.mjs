import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, noiseDecision, othersTicks, saturated, keepsUp } from './stats.mjs';

test('median of odd and even counts, ignoring what is not a finite number', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([5]), 5);
  assert.equal(median([]), null);
  assert.equal(median([null, NaN, 7, undefined]), 7);
  assert.equal(median([10, 2, 33]), 10); // numerically, not as strings
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
