// No loss and no duplicates under load with --ack stored: ~300 distinct events over ~1 s from
// several raw CoAP devices while bulk requests fail (503, reset after store), with the collector
// stopped mid-stream by SIGTERM (graceful: everything accepted is stored and answered, exit 0)
// or SIGKILL (whatever got 2.01 is stored exactly once; a second collector takes the devices'
// retries without duplicating anything).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { killAll, waitFor } from './lib/collector.mjs';
import { json } from './lib/clients.mjs';
import { makeEvent } from './lib/events.mjs';
import {
  startEs,
  startEsCollector,
  cleanupElastic,
  metrics,
  outcome,
  docsOf,
  senderCounts,
  assertExactlyOnce,
  assertNoDuplicates,
  RawDevice,
  answerOf,
  isBulk,
  bulkItemsFor,
} from './lib/elastic.mjs';

after(async () => {
  await cleanupElastic();
  await killAll();
});

const TOTAL = 300;
const DEVICES = 6;
const TICK_MS = 10;
const PER_TICK = 3; // 300 events in ~1 s

/**
 * Send TOTAL single-event CON requests, PER_TICK every TICK_MS, round robin over the devices.
 * at(i) runs before the i-th event is sent; it returns false to stop sending.
 * Returns [{event, ex}].
 */
async function load(devices, es, at) {
  const sent = [];
  for (let i = 0; i < TOTAL; i++) {
    if (at(i) === false) break;
    const e = makeEvent({ payload: { type: 'counter', value: i } });
    const ex = devices[i % devices.length].post(json(e), {
      onAnswer: (a, x) => {
        if (a.code === '2.01') x.storedAtAnswer = docsOf(es, e.sender).length;
      },
    });
    sent.push({ event: e, ex });
    if (i % PER_TICK === PER_TICK - 1) await delay(TICK_MS); // pacing only
  }
  return sent;
}

function summary(sent) {
  const codes = {};
  for (const { ex } of sent) {
    const k = ex.answer ? ex.answer.code : ex.emptyAck ? 'acked, no answer' : 'nothing';
    codes[k] = (codes[k] ?? 0) + 1;
  }
  return codes;
}

describe('no loss, no duplicates', () => {
  it('SIGTERM mid-stream with 503s: every accepted event stored exactly once, every waiting device answered, exit 0', async () => {
    const es = await startEs();
    const c = await startEsCollector(es, { args: ['--shutdown-timeout', '15'] });
    const devices = await Promise.all(Array.from({ length: DEVICES }, () => RawDevice.open(c.coap, { ackTimeoutMs: 1000 })));
    try {
      es.faults.bulkStatus(503, 3);
      let termAt;
      const sent = await load(devices, es, (i) => {
        if (i === 100) es.faults.bulkStatus(503, 2);
        if (i === 150) {
          es.faults.bulkStatus(503, 2); // the drain must retry too
          // Slow bulks at the signal: devices are still waiting (several per socket) when the
          // drain begins, and are answered at its very end.
          es.faults.delay(300, { times: 4, match: isBulk });
          termAt = Date.now();
          c.signal('SIGTERM');
        }
        return true;
      });
      const exit = await c.waitExit(20_000);
      const exitedAt = Date.now();
      assert.deepEqual(exit, { status: 0, signal: null }, `exit after SIGTERM (${Date.now() - termAt} ms); stderr tail:\n${c.stderr.slice(-3000)}`);

      // A device that got the empty ACK was waiting: it must have been answered before the exit.
      const waiting = sent.filter(({ ex }) => ex.emptyAck);
      await waitFor(() => waiting.every(({ ex }) => ex.answer), {
        timeoutMs: 3000,
        what: `answers to every waiting device (${JSON.stringify(summary(sent))})`,
      }).catch((e) => {
        const unanswered = waiting
          .filter(({ ex }) => !ex.answer)
          .map(({ event, ex }) => ({
            sender: event.sender,
            sentMsAfterSigterm: ex.sentAt - termAt,
            transmissions: ex.transmissions,
            messages: ex.messages.map((m) => ({ ...m, at: m.at - termAt })),
            stored: docsOf(es, event.sender).length,
            bulks: bulkItemsFor(es, event.sender).map((it) => {
              const r = es.requests.find((q) => q.seq === it.seq);
              return { seq: it.seq, status: r.status, reset: r.reset, conn: r.connection, at: Date.parse(r.time) - termAt };
            }),
            // The same device's other exchanges answered around the signal (separate responses).
            sameDevice: devices
              .find((dv) => dv.exchanges.includes(ex))
              .exchanges.filter((o) => o !== ex && o.answer && o.answer.at >= termAt - 50).slice(0, 5)
              .map((o) => ({ mid: o.mid, answer: o.answer.code, type: o.answer.type, at: o.answer.at - termAt })),
          }));
        assert.fail(`${e.message}: the collector exited without answering waiting devices: ${JSON.stringify(unanswered)}; exited ${exitedAt - termAt} ms after SIGTERM; logs after the signal: ${JSON.stringify(c.logs.slice(c.logs.findIndex((l) => l.msg === 'draining')))}`);
      });

      const codes = summary(sent);
      for (const { ex } of sent) {
        if (!ex.answer) continue;
        assert.ok(['2.01', '5.03'].includes(ex.answer.code), `unexpected answer ${JSON.stringify(ex.answer)}; all: ${JSON.stringify(codes)}`);
        if (ex.answer.code === '5.03') assert.ok(ex.answer.hasMaxAge, `5.03 without Max-Age: ${JSON.stringify(ex.answer)}`);
        assert.equal(ex.duplicateAnswers, 0, 'each exchange answered once');
      }
      const created = sent.filter(({ ex }) => ex.answer?.code === '2.01');
      assert.ok(created.length >= 100, `only ${created.length} events got 2.01: ${JSON.stringify(codes)}`);
      for (const { event, ex } of created) assert.equal(ex.storedAtAnswer, 1, `${event.sender} not stored when its 2.01 arrived`);
      assertExactlyOnce(es, created.map((s) => s.event), undefined, '2.01 but ');
      // Everything accepted (queued) before the signal is sent during the drain, 2.01 or not.
      assertExactlyOnce(es, waiting.map((s) => s.event), undefined, 'accepted (empty ACK) but ');
      assertNoDuplicates(es);
      const sentSenders = new Set(sent.map((s) => s.event.sender));
      for (const s of senderCounts(es).keys()) assert.ok(sentSenders.has(s), `stored an event nobody sent: ${s}`);
      const failed = es.requests.filter((r) => isBulk(r) && r.status === 503).length;
      assert.ok(failed >= 5, `the injected 503s before SIGTERM were used (${failed} bulk 503s)`);
      assert.ok(c.logs.some((l) => l.msg === 'stopped'), 'logs "stopped"');
    } finally {
      for (const d of devices) d.close();
    }
  });

  it('SIGTERM while one device has several requests waiting: each one is answered before the exit', async () => {
    const es = await startEs();
    const c = await startEsCollector(es);
    const d = await RawDevice.open(c.coap, { ackTimeoutMs: 1000 });
    try {
      es.faults.delay(800, { match: isBulk });
      const events = Array.from({ length: 5 }, (_, i) => makeEvent({ payload: { type: 'counter', value: i } }));
      const exchanges = events.map((e) => d.post(json(e)));
      await waitFor(() => exchanges.every((x) => x.emptyAck), { timeoutMs: 3000, what: 'empty ACKs' });
      const termAt = Date.now();
      c.signal('SIGTERM');
      const exit = await c.waitExit(15_000);
      assert.deepEqual(exit, { status: 0, signal: null }, `stderr:\n${c.stderr}`);
      assertExactlyOnce(es, events);
      await waitFor(() => exchanges.every((x) => x.answer), { timeoutMs: 3000, what: 'answers' }).catch(() => {});
      assert.deepEqual(
        exchanges.map((x) => x.answer?.code ?? 'no answer'),
        events.map(() => '2.01'),
        `every waiting request of the device must be answered before the exit; messages (ms after SIGTERM): ${JSON.stringify(exchanges.map((x) => x.messages.map((m) => ({ ...m, at: m.at - termAt }))))}`,
      );
    } finally {
      d.close();
    }
  });

  it('SIGKILL mid-stream: every 2.01 event is stored exactly once; a new collector takes the retries without duplicates', async () => {
    const es = await startEs();
    const c = await startEsCollector(es);
    const devices = await Promise.all(Array.from({ length: DEVICES }, () => RawDevice.open(c.coap, { ackTimeoutMs: 1000 })));
    let sent;
    try {
      es.faults.bulkStatus(503, 2).resetAfterStore(2);
      sent = await load(devices, es, (i) => {
        // Bulk requests in flight at the kill are stored after it (Elasticsearch does not cancel
        // a bulk whose client went away): stored, never acknowledged.
        if (i === 140) es.faults.delay(300, { times: 2, match: isBulk });
        if (i === 150) {
          c.signal('SIGKILL');
          return false;
        }
        return true;
      });
      const exit = await c.waitExit(10_000);
      assert.equal(exit.signal, 'SIGKILL');
    } finally {
      for (const d of devices) d.close();
    }

    // Let the server finish the bulk requests it holds (the delayed ones store after the kill).
    await es.waitFor(() => es.faults.pending().delay === 0 && es.requests.filter(isBulk).every((r) => r.status !== null || r.reset), {
      timeoutMs: 5000,
      message: 'the server did not settle the bulk requests of the killed collector',
    });
    const codes = summary(sent);
    const created = sent.filter(({ ex }) => ex.answer?.code === '2.01');
    assert.ok(created.length >= 20, `only ${created.length} events got 2.01 before the kill: ${JSON.stringify(codes)}`);
    for (const { event, ex } of created) assert.equal(ex.storedAtAnswer, 1, `${event.sender} not stored when its 2.01 arrived`);
    assertExactlyOnce(es, created.map((s) => s.event), undefined, '2.01 before SIGKILL but ');
    assertNoDuplicates(es);

    // The devices retry what was not acknowledged, at a new collector: same _id, so what the
    // killed one had stored already gets 409 and counts as stored.
    const retry = sent.filter(({ ex }) => ex.answer?.code !== '2.01').map((s) => s.event);
    const counts = senderCounts(es);
    const alreadyStored = retry.filter((e) => counts.get(e.sender) === 1).length;
    const c2 = await startEsCollector(es);
    const d2 = await Promise.all(Array.from({ length: 3 }, () => RawDevice.open(c2.coap, { ackTimeoutMs: 1000 })));
    try {
      const exchanges = retry.map((e, i) => d2[i % d2.length].post(json(e)));
      const answers = await Promise.all(exchanges.map((x) => answerOf(x, 15_000, 'a retried event')));
      const bad = answers.filter((a) => a.code !== '2.01');
      assert.deepEqual(bad, [], 'every retry is answered 2.01');
    } finally {
      for (const d of d2) d.close();
    }
    assertExactlyOnce(es, sent.map((s) => s.event), undefined, 'after the retries: ');
    assertNoDuplicates(es);
    const m = await metrics(c2);
    assert.equal(outcome(m, 'duplicate'), alreadyStored, `duplicates at the new collector = events stored but not acknowledged (${alreadyStored})`);
    assert.equal(outcome(m, 'created'), retry.length - alreadyStored);
  });
});
