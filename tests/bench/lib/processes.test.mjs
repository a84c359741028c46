import { test } from 'node:test';
import assert from 'node:assert/strict';
import { start } from './processes.mjs';

test('line() finds a line the process printed', async () => {
  const p = start('sh', ['-c', 'echo starting; echo \'{"listening":1}\'; exec sleep 30'], { name: 'printer' });
  try {
    assert.equal(await p.line(/"listening"/, 20000), '{"listening":1}');
  } finally {
    await p.stop(1000);
  }
});

// Before, the exit reached line() before `running` turned false, and it waited out its limit: a
// server that failed at start cost the harness its whole start timeout, each round.
test('line() gives up as soon as the process exits without the line, with its stderr', async () => {
  const p = start('sh', ['-c', 'echo "bad option" >&2; exit 3'], { name: 'failing' });
  await assert.rejects(p.line(/"listening"/, 20000), (e) => {
    assert.match(e.message, /failing .*exited before printing/);
    assert.match(e.message, /bad option/);
    return true;
  });
  assert.equal(p.running, false);
  assert.deepEqual(await p.exited, { code: 3, signal: null });
});
