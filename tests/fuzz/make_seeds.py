#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz (corpus/<target>/): run it after changing a seed here.

coap_request and dtls_server inputs are frames of [flags][length, 2 bytes big-endian][datagram],
see coap_request_fuzz.cpp and dtls_server_fuzz.cpp; event_validator inputs are request bodies.
"""
import json
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
CON, NON, ACK, RST = range(4)
GET, POST = 1, 2
URI_PATH, CONTENT_FORMAT, BLOCK1, SIZE1 = 11, 12, 27, 60

EVENT = {"namespace": "default", "sender": "dev-42", "origin": "probe1",
         "payload": {"type": "temperature", "value": 21.5},
         "timestamp": "2026-11-22T10:00:00.000Z"}


def compact(value):
    return json.dumps(value, separators=(",", ":")).encode()


def uint(value):
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def ext(value):
    """Option delta/length nibble and extension bytes (RFC 7252 §3.1)."""
    if value < 13:
        return value, b""
    if value < 269:
        return 13, bytes([value - 13])
    return 14, struct.pack(">H", value - 269)


def coap(mtype, code, mid, token=b"\x01\x02", options=(), payload=b"", tkl=None):
    out = bytes([0x40 | mtype << 4 | (len(token) if tkl is None else tkl), code]) + struct.pack(">H", mid) + token
    last = 0
    for number, value in sorted(options, key=lambda o: o[0]):
        (dn, dx), (ln, lx) = ext(number - last), ext(len(value))
        out += bytes([dn << 4 | ln]) + dx + lx + value
        last = number
    return out + (b"\xff" + payload if payload else b"")


def post_events(mid, body, mtype=CON, extra=()):
    return coap(mtype, POST, mid, options=[(URI_PATH, b"events"), (CONTENT_FORMAT, uint(50)), *extra],
                payload=body)


def frames(*datagrams):
    """(flags, datagram) pairs as one fuzz input."""
    return b"".join(bytes([flags]) + struct.pack(">H", len(d)) + d for flags, d in datagrams)


def block1(number, more, szx):
    return (BLOCK1, uint(number << 4 | more << 3 | szx))


def event_validator_seeds():
    batch = [dict(EVENT, sender=f"dev-{i}") for i in range(3)]
    return {
        "single": compact(EVENT),
        "batch": compact(batch),
        "no_timestamp_no_namespace": compact({k: v for k, v in EVENT.items() if k not in ("timestamp", "namespace")}),
        "epoch_ms_timestamp": compact(dict(EVENT, timestamp=1795341600000)),
        "nested_payload": compact(dict(EVENT, payload={"type": "x", "value": [1, {"a": None, "b": True}], "extra": "y"})),
        "bad_json": b'{"sender":"dev-42",',
        "trailing_garbage": compact(EVENT) + b"}x",
        "wrong_types": compact(dict(EVENT, sender=42, payload=[1])),
        "huge_numbers": compact(dict(EVENT, payload={"type": "t", "value": 1e308})).replace(b"1e+308", b"1e999999"),
        "huge_integer_timestamp": compact(dict(EVENT, timestamp=9223372036854775807)).replace(b"807", b"8070000"),
        "deep_nesting": compact(dict(EVENT, payload={"type": "t", "value": 0})).replace(b'"value":0', b'"value":' + b"[" * 40 + b"]" * 40),
        "bad_timestamp": compact(dict(EVENT, timestamp="2026-13-45T25:61:61Z")),
        "future_timestamp": compact(dict(EVENT, timestamp="2099-01-01T00:00:00Z")),
        "unicode_escapes": compact(dict(EVENT, origin="\u00e9\u2603", payload={"type": "t\ud83d\ude00", "value": "\u0000\u001f"})).replace(b"\\u00e9", b"\\u00E9"),
        "lone_surrogate": compact(dict(EVENT, payload={"type": "t", "value": "x"})).replace(b'"x"', b'"\\ud800"'),
        "duplicate_keys": b'{"sender":"a","sender":"b","origin":"o","payload":{"type":"t","value":1}}',
        "empty_array": b"[]",
        "too_large_batch": compact([EVENT] * 101),
        "empty": b"",
    }


def coap_request_seeds():
    body = compact(EVENT)
    big = compact([dict(EVENT, sender=f"dev-{i}") for i in range(8)])
    blocks = [big[i:i + 64] for i in range(0, len(big), 64)]
    upload = [(0x00, post_events(0x100 + n, chunk, extra=[block1(n, n + 1 < len(blocks), 2)] +
                                 ([(SIZE1, uint(len(big)))] if n == 0 else [])))
              for n, chunk in enumerate(blocks)]
    return {
        "con_post_events": frames((0, post_events(0x1001, body))),
        "non_post_events": frames((0, post_events(0x1002, body, mtype=NON))),
        "get_health": frames((0, coap(CON, GET, 0x1003, options=[(URI_PATH, b"health")]))),
        "get_well_known_core": frames((0, coap(CON, GET, 0x1004, options=[(URI_PATH, b".well-known"), (URI_PATH, b"core")]))),
        "get_unknown_path": frames((0, coap(CON, GET, 0x1005, options=[(URI_PATH, b"nope")]))),
        "block1_first": frames(upload[0]),
        "block1_middle": frames((0, post_events(0x1010, blocks[1], extra=[block1(1, True, 2)]))),
        "block1_last": frames((0, post_events(0x1011, blocks[-1], extra=[block1(len(blocks) - 1, False, 2)]))),
        "block1_whole_upload": frames(*upload),
        "block1_two_peers_interleaved": frames(*[x for pair in zip(upload, [(1 | f, d) for f, d in upload]) for x in pair]),
        "block1_bert": frames((0, post_events(0x1012, blocks[0], extra=[block1(0, True, 7)]))),
        "size1_too_large": frames((0, post_events(0x1013, blocks[0], extra=[block1(0, True, 2), (SIZE1, uint(1 << 40))]))),
        "unknown_critical_option": frames((0, post_events(0x1014, body, extra=[(2049, b"x")]))),
        "proxy_uri": frames((0, coap(CON, GET, 0x1015, options=[(35, b"coap://example/")]))),
        "wrong_content_format": frames((0, coap(CON, POST, 0x1016, options=[(URI_PATH, b"events"), (CONTENT_FORMAT, b"")], payload=body))),
        "bad_event": frames((0, post_events(0x1017, b'{"sender":1}'))),
        "empty_ping": frames((0, coap(CON, 0, 0x1018, token=b""))),
        "empty_ack_and_rst": frames((0, coap(ACK, 0, 0x1019, token=b"")), (0, coap(RST, 0, 0x101a, token=b""))),
        "truncated_header": frames((0, b"\x42\x02\x10")),
        "token_length_15": frames((0, coap(CON, POST, 0x101b, token=b"\x01" * 8, tkl=15))),
        "cut_short_by_server": frames((0x04, post_events(0x101c, body))),
        "retransmission_same_peer": frames((0, post_events(0x1020, body)), (0, post_events(0x1020, body))),
        "same_id_other_peers": frames((0, post_events(0x1021, body)), (2, post_events(0x1021, body)), (3, post_events(0x1021, body))),
        "retransmission_after_lifetime": frames((0, post_events(0x1022, body)), (0x38, post_events(0x1022, body))),
        "many_exchanges_evicted": frames(*[(i % 4 | (0x08 if i % 7 == 0 else 0), coap(NON, GET, 0x2000 + i, options=[(URI_PATH, b"health")])) for i in range(40)]),
    }


def dtls_record(content_type, body, epoch=0, sequence=0):
    return bytes([content_type, 0xFE, 0xFD]) + epoch.to_bytes(2, "big") + sequence.to_bytes(6, "big") + len(body).to_bytes(2, "big") + body


def client_hello(cookie=b"", suites=(0xC0A8,)):
    hello = b"\xfe\xfd" + bytes(range(32)) + b"\x00" + bytes([len(cookie)]) + cookie
    hello += (2 * len(suites)).to_bytes(2, "big") + b"".join(s.to_bytes(2, "big") for s in suites) + b"\x01\x00"
    length = len(hello).to_bytes(3, "big")
    return dtls_record(22, b"\x01" + length + b"\x00\x00" + b"\x00\x00\x00" + length + hello)


def dtls_server_seeds():
    return {
        "client_hello": frames((0, client_hello())),
        "client_hello_forged_cookie": frames((0, client_hello()), (0, client_hello(cookie=bytes(32)))),
        "client_hello_many_suites": frames((1, client_hello(suites=(0xC0A8, 0xC0A4, 0x00A8, 0x00AE, 0x008C)))),
        "client_hellos_from_every_peer": frames(*[(peer, client_hello()) for peer in range(4)]),
        "application_data_without_session": frames((2, dtls_record(23, bytes(40), epoch=1))),
        "alert": frames((0, dtls_record(21, b"\x02\x28"))),
        "two_records_one_datagram": frames((0, client_hello() + dtls_record(23, bytes(16), epoch=1))),
        "record_longer_than_datagram": frames((0, dtls_record(22, b"\x01")[:11] + b"\xff\xff\x01")),
        "truncated_header": frames((0, b"\x16\xfe\xfd\x00")),
        "coap_on_the_dtls_port": frames((0, post_events(0x3001, compact(EVENT)))),
        "hello_then_time_passes": frames((0, client_hello()), (0x08, client_hello()), (0x0C, client_hello())),
    }


def main():
    for target, seeds in (("event_validator", event_validator_seeds()), ("coap_request", coap_request_seeds()),
                          ("dtls_server", dtls_server_seeds())):
        folder = HERE / "corpus" / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (folder / name).write_bytes(data)
        print(f"{target}: {len(seeds)} seeds in {folder.relative_to(HERE)}")


if __name__ == "__main__":
    main()
