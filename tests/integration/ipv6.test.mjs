// IPv6: --listen [::1]:0 serves CoAP on the IPv6 loopback (skipped where ::1 is unavailable).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Collector, killAll } from './lib/collector.mjs';
import { CLIENTS, RAW, json } from './lib/clients.mjs';
import { makeEvent, makeBatch, assertStored } from './lib/events.mjs';

async function ipv6LoopbackAvailable() {
  const s = dgram.createSocket({ type: 'udp6', ipv6Only: true });
  try {
    await new Promise((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, '::1', resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      s.close();
    } catch {
      /* never bound */
    }
  }
}

const available = await ipv6LoopbackAvailable();

describe('IPv6', { skip: available ? false : '::1 is not available on this machine' }, () => {
  let c;
  before(async () => {
    c = await Collector.start({ listen: '[::1]:0', adminListen: '[::1]:0' });
  });
  after(async () => {
    await c?.kill();
    await killAll();
  });

  it('the ready line reports a bracketed [::1] CoAP address', () => {
    assert.match(c.ready.coap, /^\[::1\]:\d+$/, c.ready.coap);
    assert.equal(c.coap.host, '::1');
  });

  for (const client of [...CLIENTS, RAW]) {
    it(`POST /events over IPv6 with ${client.name}: 2.01 and stored`, async () => {
      const e = makeEvent();
      const mark = c.sinkMark();
      const r = await client.send(c, { payload: json(e), contentFormat: 50 });
      assert.equal(r.code, '2.01', `${r.code} ${r.text}`);
      assertStored(c.sinkPairs(mark), [e]);
    });

    it(`GET /health over IPv6 with ${client.name}: 2.05`, async () => {
      const r = await client.send(c, { method: 'GET', path: '/health' });
      assert.equal(r.code, '2.05');
    });
  }

  it('a batch and a 4.00 over IPv6', async () => {
    const batch = makeBatch(4);
    const mark = c.sinkMark();
    assert.equal((await RAW.send(c, { payload: json(batch), contentFormat: 50 })).code, '2.01');
    assert.equal((await RAW.send(c, { payload: '{', contentFormat: 50 })).code, '4.00');
    assertStored(c.sinkPairs(mark), batch);
  });
});
