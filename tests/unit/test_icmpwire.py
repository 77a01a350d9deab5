import socket
import struct

from probes import icmpwire

COOKIE = b"examnet!"


def _ipv4_header(source: str, destination: str, payload_len: int) -> bytes:
    return struct.pack(
        "!BBHHHBBH4s4s",
        0x45, 0, 20 + payload_len, 0, 0, 64, 1, 0,
        socket.inet_aton(source), socket.inet_aton(destination),
    )


def test_it_builds_requests_whose_checksum_verifies() -> None:
    template = icmpwire.EchoTemplate(socket.AF_INET, COOKIE + bytes(47))
    for ident, sequence in [(0, 0), (1, 65535), (0xFFFF, 0xFFFF), (4660, 17)]:
        packet = template.build(ident, sequence)
        assert packet[0] == icmpwire.ECHO_REQUEST_V4
        assert icmpwire.ones_complement_sum(packet) == 0xFFFF


def test_it_reads_an_echo_reply_with_our_cookie() -> None:
    reply = struct.pack("!BBHHH", 0, 0, 0, 77, 1234) + COOKIE + bytes(8)
    packet = _ipv4_header("10.1.1.1", "10.0.0.1", len(reply)) + reply
    answer = icmpwire.parse_v4_raw(packet, "10.1.1.1", COOKIE)
    assert answer == icmpwire.Answer("10.1.1.1", 77, 1234, None)


def test_it_ignores_a_reply_to_someone_elses_request() -> None:
    reply = struct.pack("!BBHHH", 0, 0, 0, 77, 1234) + b"another!" + bytes(8)
    packet = _ipv4_header("10.1.1.1", "10.0.0.1", len(reply)) + reply
    assert icmpwire.parse_v4_raw(packet, "10.1.1.1", COOKIE) is None


def test_it_reads_which_request_an_unreachable_error_is_about() -> None:
    original = struct.pack("!BBHHH", 8, 0, 0, 77, 99)
    quoted = _ipv4_header("10.0.0.1", "10.9.9.9", len(original)) + original
    error = struct.pack("!BBHI", 3, 1, 0, 0) + quoted
    packet = _ipv4_header("10.0.0.254", "10.0.0.1", len(error)) + error
    answer = icmpwire.parse_v4_raw(packet, "10.0.0.254", COOKIE)
    assert answer == icmpwire.Answer(
        "10.9.9.9", 77, 99, "destination unreachable: host unreachable (reported by 10.0.0.254)"
    )


def test_it_reads_an_icmpv6_error_about_our_request() -> None:
    original = struct.pack("!BBHHH", 128, 0, 0, 5, 6)
    ipv6 = bytes(8) + socket.inet_pton(socket.AF_INET6, "fd00::1") + socket.inet_pton(
        socket.AF_INET6, "fd00::99"
    )
    error = struct.pack("!BBHI", 1, 3, 0, 0) + ipv6 + original
    answer = icmpwire.parse_icmp_only(error, "fd00::fe", COOKIE, v6=True)
    assert answer == icmpwire.Answer(
        "fd00::99", 5, 6, "destination unreachable: address unreachable (reported by fd00::fe)"
    )


def test_it_survives_truncated_and_garbage_packets() -> None:
    for junk in [b"", b"\x45", bytes(27), b"\x4f" + bytes(40), bytes(range(256))]:
        assert icmpwire.parse_v4_raw(junk, "10.0.0.1", COOKIE) is None
        assert icmpwire.parse_icmp_only(junk, "fd00::1", COOKIE, v6=True) is None


def test_it_lets_only_chosen_icmpv6_types_through_the_filter() -> None:
    words = struct.unpack("8I", icmpwire.icmp6_filter((129, 1)))
    blocked = {t for t in range(256) if words[t >> 5] & (1 << (t & 31))}
    assert blocked == set(range(256)) - {129, 1}
