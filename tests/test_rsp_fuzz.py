"""Property tests for afgdb.rsp.

The number of examples per test comes from ``AFGDB_FUZZ_EXAMPLES``
(default 300, a few seconds in all); a long run uses e.g.
``AFGDB_FUZZ_EXAMPLES=1000000 pytest tests/test_rsp_fuzz.py``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from afgdb.rsp import (
    CLIENT,
    NEED_DATA,
    SERVER,
    BadPacket,
    Connection,
    Event,
    Packet,
    Role,
    checksum,
    escape_binary,
    unescape_binary,
)

EXAMPLES = int(os.environ.get("AFGDB_FUZZ_EXAMPLES", "300"))

fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Payloads rich in the bytes that matter: specials and runs.
special = st.sampled_from([b"#", b"$", b"}", b"*", b"%", b"+", b"-", b"\x03", b"0"])
runs = st.builds(
    lambda b, n: b * n, st.sampled_from([b"0", b"f", b"#", b"}", b" "]), st.integers(1, 300)
)
payloads = st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(special, runs, st.binary(max_size=6)), max_size=30).map(b"".join),
)
roles = st.sampled_from([SERVER, CLIENT])


def drain(conn: Connection, budget: int) -> list[Event]:
    """All events now available; fails if more than ``budget`` come out
    (every event consumes at least one byte, so this proves termination)."""
    out: list[Event] = []
    while True:
        ev = conn.next_event()
        if ev is NEED_DATA:
            return out
        out.append(ev)
        assert len(out) <= budget


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


# ------------------------------------------------------------ round trips


@fuzz
@given(payload=payloads, rle=st.booleans(), ack=st.booleans())
def test_server_to_client_round_trip(payload: bytes, rle: bool, ack: bool) -> None:
    server = Connection(SERVER, ack_mode=ack)
    frame = server.send_packet(payload, rle=rle)
    body = frame[1:-3]
    assert frame[:1] == b"$" and frame[-3:-2] == b"#"
    assert b"#" not in body and b"$" not in body
    assert int(frame[-2:], 16) == checksum(body)
    client = Connection(CLIENT, ack_mode=ack)
    client.feed(frame)
    assert drain(client, 1) == [Packet(payload)]
    assert client.data_to_send() == (b"+" if ack else b"")
    if rle:
        assert len(body) <= len(escape_binary(payload))


@fuzz
@given(payload=payloads, ack=st.booleans())
def test_zero_runs_round_trip(payload: bytes, ack: bool) -> None:
    frame = Connection(SERVER, ack_mode=ack).send_packet(payload, zero_runs=True)
    body = frame[1:-3]
    assert b"#" not in body and b"$" not in body
    assert int(frame[-2:], 16) == checksum(body)
    assert len(body) <= len(escape_binary(payload))
    client = Connection(CLIENT, ack_mode=ack)
    client.feed(frame)
    assert drain(client, 1) == [Packet(payload)]


@fuzz
@given(payload=payloads)
def test_client_to_server_round_trip(payload: bytes) -> None:
    server = Connection(SERVER)
    server.feed(Connection(CLIENT).send_packet(payload))
    assert drain(server, 1) == [Packet(payload)]


@fuzz
@given(payload=payloads)
def test_notification_round_trip(payload: bytes) -> None:
    client = Connection(CLIENT)
    client.feed(Connection(SERVER).send_notification(payload, rle=True))
    (ev,) = drain(client, 1)
    assert ev.data == payload  # type: ignore[union-attr]


@fuzz
@given(payload=payloads)
def test_escape_round_trip(payload: bytes) -> None:
    escaped = escape_binary(payload)
    assert not set(escaped.replace(b"}", b"")) & set(b"#$*")
    assert unescape_binary(escaped) == payload


# ------------------------------------------------------------ hostile streams

noise = st.one_of(
    special,
    st.binary(max_size=12),
    st.sampled_from([b"#00", b"#9a", b"#zz", b"$OK#9a", b"%Stop:T05#", b"0*", b"}"]),
    payloads.map(lambda p: Connection(SERVER).send_packet(p, rle=True)),
)
streams = st.one_of(st.binary(max_size=600), st.lists(noise, max_size=40).map(b"".join))


@fuzz
@given(
    stream=streams,
    cuts=st.lists(st.integers(0, 10_000), max_size=20),
    role=roles,
    ack=st.booleans(),
    limit=st.integers(1, 64),
)
def test_any_stream_in_any_chunks(
    stream: bytes, cuts: list[int], role: Role, ack: bool, limit: int
) -> None:
    """Nothing raises, parsing terminates, the buffer stays bounded, and the
    events do not depend on how the stream was cut."""
    whole = Connection(role, ack_mode=ack, max_packet_size=limit)
    whole.feed(stream)
    expected = drain(whole, len(stream))
    assert whole.buffered_bytes <= limit + 3

    split = Connection(role, ack_mode=ack, max_packet_size=limit)
    got: list[Event] = []
    for chunk in chunked(stream, cuts):
        split.feed(chunk)
        assert split.buffered_bytes <= limit + 3 + len(chunk)
        got += drain(split, len(stream))
        assert split.buffered_bytes <= limit + 3
    assert got == expected
    assert split.data_to_send() == whole.data_to_send()
    assert split.bad_packets == sum(isinstance(e, BadPacket) for e in got)


@fuzz
@given(
    packets=st.lists(payloads, max_size=8),
    junk=st.lists(st.binary(max_size=20), max_size=9),
    cuts=st.lists(st.integers(0, 10_000), max_size=20),
    rle=st.booleans(),
)
def test_good_packets_survive_garbage_between_them(
    packets: list[bytes], junk: list[bytes], cuts: list[int], rle: bool
) -> None:
    """Garbage free of frame-start bytes between packets loses nothing."""
    sender = Connection(SERVER, ack_mode=False)
    strip = bytes.maketrans(b"$%+-\x03", b"?????")
    parts = []
    for i, payload in enumerate(packets):
        parts.append(junk[i].translate(strip) if i < len(junk) else b"")
        parts.append(sender.send_packet(payload, rle=rle))
    stream = b"".join(parts)
    client = Connection(CLIENT, ack_mode=False)
    got: list[Event] = []
    for chunk in chunked(stream, cuts):
        client.feed(chunk)
        got += drain(client, len(stream))
    assert got == [Packet(p) for p in packets]


@fuzz
@given(data=payloads)
def test_run_finders_agree(data: bytes) -> None:
    """The CPython (big-int xor) and PyPy (loop) run finders are the same
    function; both are checked under either interpreter."""
    from afgdb.rsp import _runs_loop, _runs_xor

    runs = list(_runs_xor(data))
    assert runs == list(_runs_loop(data))
    for start, end in runs:
        assert end - start >= 4 and data[start:end] == data[start : start + 1] * (end - start)
        assert start == 0 or data[start - 1] != data[start]
        assert end == len(data) or data[end] != data[start]


@settings(max_examples=2000, deadline=None)
@given(data=st.one_of(
    st.binary(max_size=40),
    st.builds(lambda p, cs: b"$" + p + b"#" + cs, st.binary(max_size=30),
              st.sampled_from([b"00", b"zz", b"1", b""])),
    st.builds(lambda p: Connection(SERVER).send_packet(p), st.binary(max_size=30)),
), role=st.sampled_from([SERVER, CLIENT]), ack=st.booleans())
def test_single_packet_agrees_with_the_general_parser(data: bytes, role: Role,
                                                      ack: bool) -> None:
    """The one-frame shortcut either declines or gives what feed/next_event gives."""
    fast, slow = Connection(role, ack_mode=ack), Connection(role, ack_mode=ack)
    payload = fast.single_packet(data)
    if payload is None:
        return
    slow.feed(data)
    assert slow.next_event() == Packet(payload)
    assert slow.next_event() is NEED_DATA
    assert fast.data_to_send() == slow.data_to_send()


def test_single_packet_takes_plain_requests_and_declines_the_rest() -> None:
    c = Connection(SERVER, ack_mode=False)
    assert c.single_packet(b"$m400570,4#fd") == b"m400570,4"
    assert c.single_packet(b"$m400570,4#fe") is None  # bad checksum: the parser reports it
    assert c.single_packet(b"+$m400570,4#fd") is None  # an ack first
    assert c.single_packet(b"$X0,1:}]#bc") is None  # escaped: the parser unescapes
    c.feed(b"$m4")
    assert c.single_packet(b"$m400570,4#fd") is None  # a frame is half-read
