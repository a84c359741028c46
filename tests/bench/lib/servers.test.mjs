import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferedBytes } from './servers.mjs';

test('bufferedBytes sums the per-worker gauge and nothing else', () => {
  const metrics = [
    '# TYPE iot_elasticsearch_buffered_bytes gauge',
    'iot_elasticsearch_buffered_bytes{worker="0"} 1500',
    'iot_elasticsearch_buffered_bytes{worker="1"} 0',
    'iot_elasticsearch_bulk_requests_total 12',
    'iot_elasticsearch_buffered_bytes_other 99',
    'iot_elasticsearch_buffered_bytes{worker="2"} 2.5e3',
  ].join('\n');
  assert.equal(bufferedBytes(metrics), 4000);
  assert.equal(bufferedBytes('iot_events_accepted_total 5\n'), 0);
});
