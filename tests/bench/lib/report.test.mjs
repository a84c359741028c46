import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ratioTable, renderText, renderMarkdown, markdownCodeBlock, PUBLISHED_DTLS_PEER } from './report.mjs';

const cell = (server, id, eventsPerS, serverCpuUsPerEvent) => ({ server, cell: id, refused: null, eventsPerS, serverCpuUsPerEvent });

test('ratio tables: plain CoAP servers with each other, DTLS servers with each other', () => {
  const results = [
    cell('libcoap', '1dev-con', 50000, 20),
    cell('collector-file', '1dev-con', 200000, 5),
    cell('libcoap-dtls', '1dev-con', 20000, 40),
    cell('libcoap-dtls', '1000dev-con', 5000, 100),
    cell('collector-dtls', '1dev-con', 100000, 8),
    cell('collector-dtls', '1000dev-con', 40000, 20),
    cell('collector-dtls', 'batch10', 400000, 2), // no baseline runs it: no row
  ];
  const plain = ratioTable(results);
  assert.ok(!plain.header.some((h) => h.includes('dtls')), 'no DTLS baseline in the plain table');
  assert.deepEqual(plain.rows.map((r) => r[0]), ['collector-file']);
  assert.equal(plain.rows[0][plain.header.indexOf('events/s vs libcoap')], '4.00×');

  const dtls = ratioTable(results, { dtls: true });
  assert.deepEqual(dtls.header, ['collector', 'cell', 'events/s vs libcoap-dtls', 'CPU/event vs libcoap-dtls']);
  assert.deepEqual(dtls.rows, [
    ['collector-dtls', 'window 64, 1 device, CON', '5.00×', '0.20×'],
    ['collector-dtls', 'window 64, 1,000 devices, CON', '8.00×', '0.20×'],
  ]);
  // The published peer figure goes with the DTLS table, in both renderings.
  assert.ok(renderText(dtls).includes(PUBLISHED_DTLS_PEER));
  assert.ok(renderMarkdown(dtls).includes(PUBLISHED_DTLS_PEER));
  assert.ok(!renderText(plain).includes(PUBLISHED_DTLS_PEER));
});

test('sections go into the Markdown as one code block, every line of a multi-line entry indented', () => {
  const profile = renderText({ title: 'by part', header: ['part', '%'], rows: [['kernel', '69.3'], ['libc', '6.9']] });
  const block = markdownCodeBlock(['two worker threads: not measured', '', profile]);
  // An unindented line would end the code block and show the table's rows as a paragraph.
  assert.equal(block.length, 2 + profile.split('\n').length);
  for (const line of block) assert.ok(line === '' || line.startsWith('    '), `not in the code block: ${JSON.stringify(line)}`);
  assert.equal(block[1], '', 'an empty line stays empty');
  assert.equal(block.at(-1), '    libc     6.9');
});
