"""The card host over real TCP sockets: framing, limits, garbage, concurrency, 0800."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable, Iterator

import pytest
import structlog
from cardhost_double import Ledgerless, Running
from structlog.testing import capture_logs

from localpay.entrypoints.cardhost import server, terminal
from localpay.entrypoints.cardhost.framing import frame
from localpay.entrypoints.cardhost.terminal import BlockingTerminal

PAN = "9410001234567897"
Start = Callable[..., Running]


def _buy(stan: int, amount: int = 1_000, **kw: str) -> dict[str, str]:
    return terminal.purchase(
        stan, pan=kw.pop("pan", PAN), amount=amount, terminal="T0000001", acceptor="M" * 15, **kw
    )


def _rich(balance: int = 1_000_000) -> Ledgerless:
    return Ledgerless(balances={PAN: balance})


def test_a_purchase_is_answered_with_its_stan_rrn_terminal_and_balance(start_host: Start) -> None:
    running = start_host(_rich(50_000))
    t = BlockingTerminal("127.0.0.1", running.port)
    answer = t.ask(_buy(1, 12_000))
    assert answer is not None
    assert (answer["t"], answer["39"], answer["11"]) == ("0110", "00", "000001")
    assert (answer["37"], answer["41"]) == ("000000000001", "T0000001")
    assert answer["54"] == "0002410C000000038000"
    over = t.ask(_buy(2, 40_000))
    assert over is not None and over["39"] == "51"
    assert over["54"] == "0002410C000000038000"


def test_a_frame_split_into_pieces_is_read_whole(start_host: Start) -> None:
    running = start_host(_rich())
    t = BlockingTerminal("127.0.0.1", running.port)
    data = frame(terminal.encode(_buy(5)))
    for piece in (data[:1], data[1:2], data[2:20], data[20:]):
        t.send_raw(piece)
        time.sleep(0.05)
    answer = t.read()
    assert answer is not None and answer["11"] == "000005"


def test_two_frames_in_one_packet_get_two_answers(start_host: Start) -> None:
    running = start_host(_rich())
    t = BlockingTerminal("127.0.0.1", running.port)
    t.send_raw(frame(terminal.encode(_buy(1))) + frame(terminal.encode(_buy(2))))
    stans = {a["11"] for a in (t.read(), t.read()) if a is not None}
    assert stans == {"000001", "000002"}


@pytest.mark.parametrize(
    "bad",
    [b"\x00\x00", (5000).to_bytes(2, "big") + b"0100", b"\x00\x40" + b"0100" + b"\x07" * 10],
    ids=["zero-length", "oversize", "truncated-then-close"],
)
def test_a_broken_frame_closes_only_its_connection(start_host: Start, bad: bytes) -> None:
    running = start_host(_rich())
    other = BlockingTerminal("127.0.0.1", running.port)
    t = BlockingTerminal("127.0.0.1", running.port)
    started = time.monotonic()
    t.send_raw(bad)
    if bad.startswith(b"\x00\x40"):
        t.sock.shutdown(socket.SHUT_WR)  # cut short: 64 announced, 14 sent
    assert t.closed_by_host()
    assert time.monotonic() - started < 2  # at once, not at the frame timeout
    answer = other.ask(_buy(9))
    assert answer is not None and answer["39"] == "00"
    assert not running.authority.seen[:-1]  # nothing of the broken frame reached the service


def test_a_slow_frame_and_an_idle_connection_are_closed(start_host: Start) -> None:
    running = start_host(_rich(), frame_timeout_s=0.5, idle_timeout_s=1.0)
    slow = BlockingTerminal("127.0.0.1", running.port)
    idle = BlockingTerminal("127.0.0.1", running.port)
    data = frame(terminal.encode(_buy(1)))
    started = time.monotonic()
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        for byte in data:  # slowloris: a byte every 0.1 s, the frame would take 12 s
            slow.send_raw(bytes([byte]))
            time.sleep(0.1)
    assert time.monotonic() - started < 3
    assert idle.closed_by_host()
    assert time.monotonic() - started < 3


def test_garbage_gets_30_or_a_clean_close_and_the_host_keeps_serving(start_host: Start) -> None:
    running = start_host(_rich())
    good = BlockingTerminal("127.0.0.1", running.port)
    rng = random.Random(13)
    valid = terminal.encode(_buy(3))
    outcomes = {"30": 0, "closed": 0}
    for n in range(150):
        data = bytearray(valid if n % 2 else rng.randbytes(rng.randint(1, 300)))
        for _ in range(rng.randint(1, 5)):
            at = rng.randrange(len(data))
            data[at : at + 1] = rng.randbytes(rng.randint(0, 3))
        t = BlockingTerminal("127.0.0.1", running.port, timeout=5)
        t.send_raw(frame(bytes(data)) if data else b"\x00\x00")
        answer = t.read()
        if answer is None:
            outcomes["closed"] += 1
        else:
            assert answer["39"] in ("30", "00", "14", "51"), answer  # a mutation may stay valid
            outcomes["30"] += answer["39"] == "30"
        t.close()
        if n % 25 == 0:
            assert (g := good.ask(_buy(1000 + n))) is not None and g["39"] == "00"
    assert outcomes["30"] > 10 and outcomes["closed"] > 10, outcomes


def test_twenty_requests_in_flight_are_answered_out_of_order_matched_by_stan(
    start_host: Start,
) -> None:
    # The first sent is the slowest: answers come back in reverse if they run concurrently.
    authority = Ledgerless(balances={PAN: 1_000_000}, delay=lambda r: (21 - int(r.stan)) * 0.03)
    running = start_host(authority)
    t = BlockingTerminal("127.0.0.1", running.port)
    for stan in range(1, 21):
        t.send(_buy(stan, amount=stan))
    answers = [t.read() for _ in range(20)]
    order = [int(a["11"]) for a in answers if a is not None]
    assert sorted(order) == list(range(1, 21))
    assert order != sorted(order)  # out of order
    assert order[0] > order[-1]
    assert authority.most_busy >= 10
    for a in answers:
        assert a is not None and int(a["4"]) == int(a["11"])  # each answer is its request's


def test_0800_is_answered_by_the_host_itself(start_host: Start) -> None:
    running = start_host(_rich())
    t = BlockingTerminal("127.0.0.1", running.port)
    for code in ("001", "301", "002"):
        answer = t.ask({**terminal.echo(4), "70": code})
        assert answer is not None
        assert (answer["t"], answer["39"], answer["70"], answer["11"]) == (
            "0810",
            "00",
            code,
            "000004",
        )
    assert running.authority.seen == []


def test_a_failing_service_is_a_96_and_the_connection_lives_on(start_host: Start) -> None:
    def boom(_: object) -> float:
        raise RuntimeError("store down")

    running = start_host(Ledgerless(balances={PAN: 10}, delay=boom))
    t = BlockingTerminal("127.0.0.1", running.port)
    answer = t.ask(_buy(1))
    assert answer is not None and answer["39"] == "96"
    echo = t.ask(terminal.echo(2))
    assert echo is not None and echo["39"] == "00"


def test_connections_over_the_limit_are_closed(start_host: Start) -> None:
    running = start_host(_rich(), max_connections=2)
    kept = [BlockingTerminal("127.0.0.1", running.port) for _ in range(2)]
    for n, t in enumerate(kept):
        assert (a := t.ask(_buy(n + 1))) is not None and a["39"] == "00"
    extra = BlockingTerminal("127.0.0.1", running.port)
    assert extra.closed_by_host()


@pytest.fixture
def fresh_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """structlog's defaults and a fresh host logger for the test: importing the test kit
    (testing/servers.py) configures warning-level loggers cached on first use, and the
    host's module logger may have been used under that configuration already."""
    saved = structlog.get_config()
    structlog.reset_defaults()
    monkeypatch.setattr(server, "log", structlog.get_logger("localpay.cardhost"))
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("fresh_log")
def test_logs_mask_the_card_number_and_never_carry_the_pin_block(start_host: Start) -> None:
    running = start_host(_rich())
    t = BlockingTerminal("127.0.0.1", running.port)
    with capture_logs() as logs:
        t.ask(_buy(1, pin_block="0123456789ABCDEF"))
        t.ask({**_buy(2, pin_block="0123456789ABCDEF"), "49": "840"})  # a 30
        time.sleep(0.1)
    text = repr(logs)
    assert "card request answered" in text and "card request malformed" in text
    assert "941000******7897" in text
    assert PAN not in text and "0123456789ABCDEF" not in text


def test_a_connection_over_its_in_flight_limit_waits_and_is_answered(start_host: Start) -> None:
    authority = Ledgerless(balances={PAN: 1_000_000}, delay=lambda _: 0.1)
    running = start_host(authority, max_in_flight=3)
    t = BlockingTerminal("127.0.0.1", running.port)
    for stan in range(1, 11):
        t.send(_buy(stan))
    answers = [t.read() for _ in range(10)]
    assert all(a is not None and a["39"] == "00" for a in answers)
    assert authority.most_busy == 3  # never more at once for this connection


def test_a_terminal_that_leaves_with_requests_in_flight_harms_no_one(start_host: Start) -> None:
    authority = Ledgerless(balances={PAN: 1_000_000}, delay=lambda _: 0.2)
    running = start_host(authority)
    gone = BlockingTerminal("127.0.0.1", running.port)
    for stan in range(1, 6):
        gone.send(_buy(stan))
    time.sleep(0.05)
    gone.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    gone.close()  # a reset, with five answers still to come
    time.sleep(0.5)
    t = BlockingTerminal("127.0.0.1", running.port)
    answer = t.ask(_buy(99))
    assert answer is not None and answer["39"] == "00"
    assert len(authority.seen) == 6  # the five were decided all the same (reversals cover them)
