import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePerfReport, categorise, shortSymbol } from './profile.mjs';

test('perf report lines become {pct, dso, sym}; kernel rows are named as such', () => {
  const text = [
    '# Overhead  Shared Object      Symbol',
    '# ........  .................  ......',
    '#',
    '    12.50%  [kernel.kallsyms]  [k] __x86_indirect_thunk_rax',
    '     3.25%  iot-collector      [.] iot::event::EventValidator::validate(boost::json::value const&)',
    '     1.00%  libc.so.6          [.] __memmove_avx_unaligned_erms',
    '',
  ].join('\n');
  assert.deepEqual(parsePerfReport(text), [
    { pct: 12.5, dso: '[kernel.kallsyms]', sym: '__x86_indirect_thunk_rax' },
    { pct: 3.25, dso: 'iot-collector', sym: 'iot::event::EventValidator::validate(boost::json::value const&)' },
    { pct: 1, dso: 'libc.so.6', sym: '__memmove_avx_unaligned_erms' },
  ]);
});

test('symbols fall into the part of the collector they belong to', () => {
  assert.match(categorise('[kernel.kallsyms]', 'udp_recvmsg'), /kernel/);
  assert.match(categorise('libc.so.6', 'malloc'), /libc/);
  assert.match(categorise('libcoap-3-notls.so.3', 'coap_io_do_epoll'), /CoAP/);
  assert.match(categorise('iot-collector', 'boost::json::basic_parser<x>::parse_string'), /JSON/);
  assert.match(categorise('libboost_json.so.1.81.0', 'boost::json::value::~value()'), /JSON/);
  assert.match(categorise('iot-collector', 'iot::event::detail::write_rfc3339_ms'), /bulk/);
  assert.match(categorise('iot-collector', 'boost::json::basic_parser<iot::event::BodyHandler>::parse_unescaped<true>(char const*)'), /JSON/);
  assert.match(categorise('iot-collector', 'iot::event::append_serialized<boost::json::value>(std::string&)'), /bulk/);
  assert.match(categorise('[vdso]', '0x000000000000079d'), /clock/);
  assert.match(categorise('iot-collector', 'iot::event::append_bulk_create(std::string&)'), /bulk/);
  assert.match(categorise('iot-collector', 'iot::sink::FileStore::store(...)'), /sink/);
  assert.match(categorise('iot-collector', 'main'), /other \(collector\)/);
});

test('shortSymbol drops template arguments, nested ones too', () => {
  assert.equal(shortSymbol('std::_Hashtable<std::string, std::pair<int, long>>::find(std::string const&)'), 'std::_Hashtable<…>::find(std::string const&)');
  assert.equal(shortSymbol('iot::coap::ExchangeCache::insert'), 'iot::coap::ExchangeCache::insert');
});
