"""Unit tests for afgdb.rsp, the sans-IO RSP codec (no sockets)."""

from __future__ import annotations

import pytest

from afgdb.rsp import (
    CLIENT,
    DEFAULT_MAX_PACKET_SIZE,
    NEED_DATA,
    PACKET_SIZE,
    SERVER,
    Ack,
    BadPacket,
    Connection,
    Event,
    Interrupt,
    LocalProtocolError,
    Nak,
    Notification,
    Packet,
    RemoteProtocolError,
    Role,
    checksum,
    escape_binary,
    hex_decode,
    hex_encode,
    unescape_binary,
)


def events(conn: Connection, data: bytes = b"") -> list[Event]:
    """Feed ``data`` and drain every event."""
    conn.feed(data)
    out: list[Event] = []
    while True:
        ev = conn.next_event()
        if ev is NEED_DATA:
            return out
        out.append(ev)


def bytewise(conn: Connection, data: bytes) -> list[Event]:
    out: list[Event] = []
    for i in range(len(data)):
        out += events(conn, data[i : i + 1])
    return out


# ------------------------------------------------------------ checksum, framing


def test_checksum_of_real_gdb_packets() -> None:
    assert checksum(b"OK") == 0x9A
    assert checksum(b"QStartNoAckMode") == 0xB0
    assert checksum(b"") == 0
    assert checksum(b"\xff\x02") == 0x01


@pytest.mark.parametrize(
    "payload, frame",
    [
        (b"OK", b"$OK#9a"),
        (b"", b"$#00"),
        (b"qC", b"$qC#b4"),
        (b"vCont?", b"$vCont?#49"),
        (b"QStartNoAckMode", b"$QStartNoAckMode#b0"),
    ],
)
def test_send_packet_frames_like_gdb(payload: bytes, frame: bytes) -> None:
    assert Connection(SERVER).send_packet(payload) == frame
    assert Connection(CLIENT, ack_mode=False).send_packet(payload) == frame


def test_real_gdb_session_start() -> None:
    stub = Connection(SERVER)
    got = events(stub, b"+$qSupported:multiprocess+;swbreak+;xmlRegisters=i386#a6")
    assert got[0] == Ack()
    assert got[1:] == [Packet(b"qSupported:multiprocess+;swbreak+;xmlRegisters=i386")]
    assert stub.data_to_send() == b"+"
    assert stub.data_to_send() == b""


def test_checksum_accepts_upper_case_hex() -> None:
    assert events(Connection(SERVER), b"$OK#9A") == [Packet(b"OK")]


def test_constants() -> None:
    assert PACKET_SIZE == 0x20000
    assert DEFAULT_MAX_PACKET_SIZE > PACKET_SIZE
    assert Connection(SERVER).role is Role.SERVER


# ------------------------------------------------------------ escaping


def test_escape_binary_of_the_four_special_bytes() -> None:
    assert escape_binary(b"#$}*") == b"}\x03}\x04}]}\x0a"
    assert escape_binary(b"plain") == b"plain"
    assert unescape_binary(b"}\x03}\x04}]}\x0a") == b"#$}*"


def test_unescape_accepts_any_escaped_byte() -> None:
    assert unescape_binary(b"a}\x20b") == b"a\x00b"
    assert unescape_binary(b"}}") == b"]"


def test_unescape_rejects_trailing_escape() -> None:
    with pytest.raises(RemoteProtocolError):
        unescape_binary(b"abc}")


def test_binary_x_packet_round_trip() -> None:
    data = bytes(range(256)) * 2
    payload = b"X80001000,200:" + data
    frame = Connection(CLIENT).send_packet(payload)
    body = frame[1:-3]
    assert b"#" not in body and b"$" not in body and b"*" not in body
    assert events(Connection(SERVER), frame) == [Packet(payload)]


def test_gdb_escaped_x_packet() -> None:
    # gdb writing the bytes 23 24 7d 2a at 0x1000
    body = b"X1000,4:}\x03}\x04}]}\x0a"
    frame = b"$%s#%02x" % (body, checksum(body))
    assert events(Connection(SERVER), frame) == [Packet(b"X1000,4:#$}*")]


def test_bad_escape_in_a_good_frame_is_a_bad_packet_but_acked() -> None:
    body = b"Xabc}"
    stub = Connection(SERVER)
    (ev,) = events(stub, b"$%s#%02x" % (body, checksum(body)))
    assert isinstance(ev, BadPacket)
    assert stub.data_to_send() == b"+"


# ------------------------------------------------------------ run-length encoding


def test_rle_decode_doc_example() -> None:
    # "0* " means 0000: the '0' plus 3 more (' ' is 32 = 3 + 29).
    body = b"0* "
    frame = b"$%s#%02x" % (body, checksum(body))
    assert events(Connection(CLIENT), frame) == [Packet(b"0000")]


def test_rle_decode_real_gdbserver_reply() -> None:
    # vFile:pread reply captured from gdbserver: "localhost:1* " is 1111.
    frame = b"$F24;gdbserver\x00localhost:1* \x00/bin/false\x00#cb"
    (ev,) = events(Connection(CLIENT), frame)
    assert ev == Packet(b"F24;gdbserver\x00localhost:1111\x00/bin/false\x00")
    assert len(ev.data) - len(b"F24;") == 0x24


def test_server_takes_star_literally() -> None:
    body = b"qSymbol:0* "
    frame = b"$%s#%02x" % (body, checksum(body))
    assert events(Connection(SERVER), frame) == [Packet(body)]


def test_rle_encode_avoids_hash_and_dollar_counts() -> None:
    server = Connection(SERVER, ack_mode=False)
    # 8 zeros: 7 more would give '$' (36) and 6 more '#' (35): use 5 ('"').
    assert server.send_packet(b"0" * 8, rle=True)[1:-3] == b'0*"00'
    # 7 zeros: 6 more would be '#'.
    assert server.send_packet(b"0" * 7, rle=True)[1:-3] == b'0*"0'
    for n in range(1, 400):
        frame = server.send_packet(b"0" * n, rle=True)
        body = frame[1:-3]
        assert b"#" not in body and b"$" not in body
        assert b"+" not in body and b"-" not in body and b"}" not in body
        assert events(Connection(CLIENT, ack_mode=False), frame) == [Packet(b"0" * n)]


def test_rle_encode_short_runs_stay_literal() -> None:
    server = Connection(SERVER)
    assert server.send_packet(b"000", rle=True) == b"$000#90"
    assert server.send_packet(b"0000", rle=True)[1:-3] == b"0* "


def test_rle_never_repeats_escaped_bytes() -> None:
    payload = b"####$$$$}}}}****"
    frame = Connection(SERVER).send_packet(payload, rle=True)
    assert frame[1:-3] == escape_binary(payload)
    assert events(Connection(CLIENT), frame) == [Packet(payload)]


def test_rle_decode_errors_are_bad_packets() -> None:
    for body in (b"* x", b"0*\x05"):
        client = Connection(CLIENT)
        (ev,) = events(client, b"$%s#%02x" % (body, checksum(body)))
        assert isinstance(ev, BadPacket)


def test_client_must_not_rle() -> None:
    with pytest.raises(LocalProtocolError):
        Connection(CLIENT).send_packet(b"0000", rle=True)
    with pytest.raises(LocalProtocolError):
        Connection(CLIENT).send_packet(b"0000", zero_runs=True)


def test_zero_runs_encode_only_long_runs_of_zeros() -> None:
    server = Connection(SERVER, ack_mode=False)
    # 98 zeros are '0' and 97 repeats ('~'); shorter runs and other digits stay literal.
    assert server.send_packet(b"ab" + b"0" * 200 + b"cd", zero_runs=True)[1:-3] == \
        b"ab0*~0*~0000cd"
    assert server.send_packet(b"0" * 97 + b"f" * 200, zero_runs=True)[1:-3] == \
        b"0" * 97 + b"f" * 200
    # Escaped bytes around a run: '}' escapes never produce a '0'.
    payload = b"}" + b"0" * 98 + b"*"
    frame = server.send_packet(payload, zero_runs=True)
    assert frame[1:-3] == b"}]0*~}\x0a"
    assert events(Connection(CLIENT, ack_mode=False), frame) == [Packet(payload)]


def test_checksum_of_large_payloads() -> None:
    # Large payloads take another route than sum(); both must agree at every size.
    for n in (1023, 1024, 4096, 65519, 65520, 65521, 131072, 200003):
        for data in (b"\xff" * n, bytes(range(256)) * (n // 256) + b"7" * (n % 256)):
            assert checksum(data) == sum(data) & 0xFF


# ------------------------------------------------------------ acks, naks, resend


def test_ack_mode_acks_good_packets() -> None:
    stub = Connection(SERVER)
    assert events(stub, b"$g#67$?#3f") == [Packet(b"g"), Packet(b"?")]
    assert stub.data_to_send() == b"++"


def test_reply_carries_pending_ack_first() -> None:
    stub = Connection(SERVER)
    events(stub, b"$?#3f")
    assert stub.send_packet(b"S05") == b"+$S05#b8"
    assert stub.data_to_send() == b""


def test_bad_checksum_in_ack_mode_naks_and_drops() -> None:
    stub = Connection(SERVER)
    got = events(stub, b"$g#00$g#67")
    assert isinstance(got[0], BadPacket) and "checksum" in got[0].reason
    assert got[1:] == [Packet(b"g")]
    assert stub.data_to_send() == b"-+"
    assert stub.bad_packets == 1


def test_malformed_checksum_naks_and_resyncs_after_hash() -> None:
    stub = Connection(SERVER)
    got = events(stub, b"$g#$g#67")
    assert isinstance(got[0], BadPacket)
    assert got[1:] == [Packet(b"g")]
    assert stub.data_to_send() == b"-+"


def test_nak_offers_resend_until_acked() -> None:
    stub = Connection(SERVER)
    frame = stub.send_packet(b"OK")
    assert events(stub, b"-") == [Nak()]
    assert stub.resend() == frame
    assert events(stub, b"+") == [Ack()]
    assert stub.resend() == b""


def test_resend_with_nothing_sent() -> None:
    stub = Connection(SERVER)
    assert events(stub, b"-") == [Nak()]
    assert stub.resend() == b""


def test_notifications_are_not_kept_for_resend() -> None:
    stub = Connection(SERVER)
    frame = stub.send_packet(b"OK")
    stub.send_notification(b"Stop:T05")
    assert stub.resend() == frame


# ------------------------------------------------------------ no-ack mode


def test_no_ack_mode_handshake() -> None:
    gdb = Connection(CLIENT)
    stub = Connection(SERVER)

    wire = gdb.send_packet(b"QStartNoAckMode")
    assert wire == b"$QStartNoAckMode#b0"
    assert events(stub, wire) == [Packet(b"QStartNoAckMode")]
    reply = stub.send_packet(b"OK")
    stub.start_no_ack_mode()
    assert reply == b"+$OK#9a"  # the stub's ack still goes out first

    assert events(gdb, reply) == [Ack(), Packet(b"OK")]
    gdb.start_no_ack_mode()
    assert gdb.data_to_send() == b"+"  # queued before the switch: still sent

    # The stub, already in no-ack mode, ignores that '+'.
    assert events(stub, b"+") == []
    wire = gdb.send_packet(b"g")
    assert events(stub, wire) == [Packet(b"g")]
    assert stub.data_to_send() == b""
    assert stub.send_packet(b"00") == b"$00#60"
    assert stub.resend() == b""
    assert not stub.ack_mode and not gdb.ack_mode


def test_no_ack_mode_ignores_plus_and_minus() -> None:
    stub = Connection(SERVER, ack_mode=False)
    assert events(stub, b"+-+$g#67-") == [Packet(b"g")]
    assert stub.data_to_send() == b""


def test_bad_checksum_in_no_ack_mode_is_reported_not_raised() -> None:
    stub = Connection(SERVER, ack_mode=False)
    got = events(stub, b"$g#68$?#3f")
    assert isinstance(got[0], BadPacket)
    assert got[1:] == [Packet(b"?")]
    assert stub.data_to_send() == b""


# ------------------------------------------------------------ interrupts


def test_interrupt_between_packets() -> None:
    stub = Connection(SERVER, ack_mode=False)
    assert events(stub, b"$c#63\x03$?#3f") == [Packet(b"c"), Interrupt(), Packet(b"?")]


def test_interrupt_inside_a_packet_is_data() -> None:
    body = b"vFile:pwrite:3,0,\x03"
    frame = b"$%s#%02x" % (body, checksum(body))
    assert events(Connection(SERVER), frame) == [Packet(body)]


def test_interrupt_is_not_acked() -> None:
    stub = Connection(SERVER)
    assert events(stub, b"\x03") == [Interrupt()]
    assert stub.data_to_send() == b""


def test_client_sends_interrupt_after_pending_acks() -> None:
    gdb = Connection(CLIENT)
    assert gdb.send_interrupt() == b"\x03"
    events(gdb, b"$OK#9a")
    assert gdb.send_interrupt() == b"+\x03"


def test_client_ignores_ctrl_c_from_stub() -> None:
    assert events(Connection(CLIENT), b"\x03$OK#9a") == [Packet(b"OK")]


def test_role_misuse_is_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        Connection(SERVER).send_interrupt()
    with pytest.raises(LocalProtocolError):
        Connection(CLIENT).send_notification(b"Stop:T05")
    with pytest.raises(LocalProtocolError):
        Connection(SERVER, max_packet_size=0)


# ------------------------------------------------------------ garbage, resync


def test_garbage_between_packets_is_skipped() -> None:
    stub = Connection(SERVER)
    got = events(stub, b"hello\r\n#99 $g#67 junk ## $?#3f tail")
    assert got == [Packet(b"g"), Packet(b"?")]
    assert stub.data_to_send() == b"++"
    assert stub.buffered_bytes == 0


def test_new_dollar_inside_frame_restarts() -> None:
    stub = Connection(SERVER)
    got = events(stub, b"$m100$g#67")
    assert isinstance(got[0], BadPacket)
    assert got[1:] == [Packet(b"g")]
    assert stub.data_to_send() == b"+"  # no nak for a cut frame


# ------------------------------------------------------------ notifications


def test_notification_round_trip() -> None:
    stub = Connection(SERVER)
    wire = stub.send_notification(b"Stop:T05thread:p1.1;")
    assert wire == b"%Stop:T05thread:p1.1;#" + b"%02x" % checksum(wire[1:-3])
    gdb = Connection(CLIENT)
    (ev,) = events(gdb, wire)
    assert ev == Notification(b"Stop:T05thread:p1.1;")
    assert isinstance(ev, Notification) and ev.name == b"Stop"
    assert gdb.data_to_send() == b""  # notifications are never acked


def test_server_treats_percent_as_garbage() -> None:
    assert events(Connection(SERVER), b"%Stop:T05#ff$g#67") == [Packet(b"g")]


def test_notification_with_bad_checksum_is_not_naked() -> None:
    gdb = Connection(CLIENT)
    (ev,) = events(gdb, b"%Stop:T05#00")
    assert isinstance(ev, BadPacket)
    assert gdb.data_to_send() == b""


# ------------------------------------------------------------ split feeds


STREAM = (
    b"+$qSupported:multiprocess+#c6junk\x03$X1000,4:}\x03}\x04}]}\x0a#"
    + b"%02x" % checksum(b"X1000,4:}\x03}\x04}]}\x0a")
    + b"$g#00-$?#3f"
)


@pytest.mark.parametrize("ack_mode", [True, False])
def test_split_feeds_give_the_same_events(ack_mode: bool) -> None:
    whole = Connection(SERVER, ack_mode=ack_mode)
    split = Connection(SERVER, ack_mode=ack_mode)
    expected = events(whole, STREAM)
    assert bytewise(split, STREAM) == expected
    assert split.data_to_send() == whole.data_to_send()
    assert Packet(b"X1000,4:#$}*") in expected


def test_packet_one_byte_at_a_time_needs_data_until_complete() -> None:
    stub = Connection(SERVER)
    frame = b"$qC#b4"
    for i in range(len(frame) - 1):
        assert events(stub, frame[i : i + 1]) == []
    assert events(stub, frame[-1:]) == [Packet(b"qC")]


# ------------------------------------------------------------ oversize


def test_oversize_packet_is_refused_and_parsing_resyncs() -> None:
    stub = Connection(SERVER, max_packet_size=16)
    ok = b"$%s#%02x" % (b"a" * 16, checksum(b"a" * 16))
    assert events(stub, ok) == [Packet(b"a" * 16)]
    big = b"a" * 17
    got = events(stub, b"$%s#%02x$g#67" % (big, checksum(big)))
    assert isinstance(got[0], BadPacket) and "longer" in got[0].reason
    assert got[1:] == [Packet(b"g")]


def test_oversize_rest_is_skipped_up_to_next_dollar() -> None:
    # Bytes of the refused frame that look like '+', '-' or 0x03 are not events.
    stub = Connection(SERVER, max_packet_size=8)
    got = events(stub, b"$" + b"x" * 20 + b"+-\x03#00$g#67")
    assert len(got) == 2 and isinstance(got[0], BadPacket)
    assert got[1] == Packet(b"g")


def test_endless_frame_keeps_buffer_bounded() -> None:
    limit = 1000
    stub = Connection(SERVER, max_packet_size=limit)
    stub.feed(b"$")
    bad = 0
    for _ in range(200):
        for ev in events(stub, b"z" * 97):
            assert isinstance(ev, BadPacket)
            bad += 1
        assert stub.buffered_bytes <= limit + 3
    assert bad == 1
    assert events(stub, b"$g#67") == [Packet(b"g")]


def test_endless_garbage_keeps_buffer_empty() -> None:
    stub = Connection(SERVER)
    for _ in range(100):
        assert events(stub, b"garbage" * 100) == []
        assert stub.buffered_bytes == 0


# ------------------------------------------------------------ hex


def test_hex_helpers() -> None:
    assert hex_encode(b"\x01\xab\xff") == b"01abff"
    assert hex_decode(b"01ABff") == b"\x01\xab\xff"
    assert hex_decode(b"") == b""


@pytest.mark.parametrize("bad", [b"0", b"zz", b"0g", b" 01", b"01\n"])
def test_hex_decode_rejects_bad_hex(bad: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        hex_decode(bad)
    assert info.value.msg


def test_events_are_frozen_values() -> None:
    p = Packet(b"g")
    with pytest.raises(AttributeError):
        p.data = b"x"  # type: ignore[misc]
    others: list[object] = [Nak(), Interrupt()]
    assert Packet(b"g") == p and Ack() == Ack() and Ack() not in others
    assert hash(Interrupt()) == hash(Interrupt())
