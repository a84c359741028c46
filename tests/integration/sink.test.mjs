// The file sink's failure paths: a write error is answered 5.00, logged and counted, never
// ignored; an unusable sink stops start-up with a clear message.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Collector, killAll, runCollector } from './lib/collector.mjs';
import { CLIENTS, RAW, json } from './lib/clients.mjs';
import { makeEvent } from './lib/events.mjs';
import { scrape, metricValue } from './lib/admin.mjs';

after(async () => {
  await killAll();
});

describe('a sink that cannot be written', { skip: !fs.existsSync('/dev/full') && 'no /dev/full' }, () => {
  let c;
  after(async () => {
    await c?.kill();
  });

  it('answers 5.00 to every device, counts each failure and logs it once, not per request', async () => {
    c = await Collector.start({
      standardFlags: false,
      args: ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--sink', 'file:/dev/full',
             '--log-format', 'json', '--threads', '1'],
    });
    for (const client of [RAW, ...CLIENTS]) {
      const r = await client.send(c, { method: 'POST', path: '/events', payload: json(makeEvent()), contentFormat: 50 });
      assert.equal(r.code, '5.00', `${client.name}: ${r.code} ${r.text}`);
      assert.match(r.text, /retry/);
    }
    const { samples } = await scrape(c);
    assert.equal(metricValue(samples, 'iot_sink_write_errors_total'), 1 + CLIENTS.length);
    assert.equal(metricValue(samples, 'iot_events_accepted_total'), 0);
    assert.equal(metricValue(samples, 'iot_coap_requests_total', { method: 'POST', path: '/events', code: '5.00' }), 1 + CLIENTS.length);
    const failures = c.logsWith('sink write failed');
    assert.equal(failures.length, 1, JSON.stringify(failures));
    assert.equal(failures[0].level, 'error');
    assert.equal(failures[0].path, '/dev/full');
    // The health endpoint still answers: the process keeps serving and can recover.
    const health = await RAW.send(c, { method: 'GET', path: '/health' });
    assert.equal(health.code, '2.05');
  });
});

describe('a sink path that cannot be opened', () => {
  it('exits 1 at start with one line naming the path', async () => {
    const r = await runCollector(['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0',
                                  '--sink', 'file:/dev/null/events.ndjson', '--log-format', 'json']);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    const line = JSON.parse(lines[0]);
    assert.equal(line.msg, 'cannot start');
    assert.match(line.error, /\/dev\/null\/events\.ndjson/);
  });
});
