"""The programs' commands in their one canonical encoding, signed by the key of seed
00 01 .. 1f: the worked vectors of docs/encoding.md ("Programs' commands"), pinned byte
for byte. A policy spelt out with its later fields at their defaults is not canonical."""

from __future__ import annotations

import msgspec
import nacl.signing
import pytest

from localpay.domain import commands as c
from localpay.domain.policy import default_sale
from localpay.ledger.signatures import sign_command
from localpay.testing.builders import policy

KEY = nacl.signing.SigningKey(bytes(range(32)))
ORDER = "00112233445566778899aabbccddeeff"
W1 = "w-0000001"

VECTORS: list[tuple[c.Command, str, str]] = [
    (
        c.OrderPurchase(id=ORDER, city="gimpo", wallet=W1, program="general", amount=100000),
        '{"amount":100000,"city":"gimpo","id":"00112233445566778899aabbccddeeff",'
        '"program":"general","type":"order_purchase","wallet":"w-0000001"}',
        "c49e0311fde174fd637c3facd38ac2d3150d121ddd03aa0e0701d1c5e291365e"
        "7234503c281935a211765d10a47fe23a6a5a6bceb185e5264e48835c6ff3e404",
    ),
    (
        c.ConfirmPurchase(
            id="11112222333344445555666677778888",
            city="gimpo",
            wallet=W1,
            order=ORDER,
            amount=100000,
            deposit_ref="va-20261201-0001",
        ),
        '{"amount":100000,"city":"gimpo","deposit_ref":"va-20261201-0001",'
        '"id":"11112222333344445555666677778888","order":"00112233445566778899aabbccddeeff",'
        '"type":"confirm_purchase","wallet":"w-0000001"}',
        "e6233c98c68a8ddc1d4eb2c6617a234bcbe2925a8b1761758c0885802dde0ad2"
        "461cbe25221e423a8a38b2a2a15ee44f9671409a6379c0575c237d523e3e7500",
    ),
    (
        c.LapseOrder(id="22223333444455556666777788889999", city="gimpo", wallet=W1, order=ORDER),
        '{"city":"gimpo","id":"22223333444455556666777788889999",'
        '"order":"00112233445566778899aabbccddeeff","type":"lapse_order","wallet":"w-0000001"}',
        "563655b03bfbf9b3c8dc55ee82c325412be55e5b1edb42463e27a8650ebe3566"
        "ad16958c3827d71745e57038fb99d8322641e52eae4640cbb6354610f8370909",
    ),
    (
        c.CancelPurchase(
            id="33334444555566667777888899990000", city="gimpo", wallet=W1, purchase=ORDER
        ),
        '{"city":"gimpo","id":"33334444555566667777888899990000",'
        '"purchase":"00112233445566778899aabbccddeeff","type":"cancel_purchase",'
        '"wallet":"w-0000001"}',
        "23f219796a091fc5943a846ee85eded7e1298a0425c5fee4de450d4223afde1c"
        "b0aa7f0c4da31c71746b9b56c0851e97f6f7f94634897c3fafc81d23ab374e03",
    ),
    (
        c.RefundBalance(
            id="44445555666677778888999900001111", city="gimpo", wallet=W1, purchase=ORDER
        ),
        '{"city":"gimpo","id":"44445555666677778888999900001111",'
        '"purchase":"00112233445566778899aabbccddeeff","type":"refund_balance",'
        '"wallet":"w-0000001"}',
        "21f181f23c63fc172321f09d0a5c4c224a33152904384c16bc3068c17f7691c3"
        "11a508bb54d83474cfddc94793d047bc8681c6bbe76ca61fbaedf37daf3a8c0f",
    ),
    (
        c.Cashback(
            id="55556666777788889999000011112222",
            city="gimpo",
            wallet=W1,
            program="general",
            month=24322,
        ),
        '{"city":"gimpo","id":"55556666777788889999000011112222","month":24322,'
        '"program":"general","type":"cashback","wallet":"w-0000001"}',
        "89bc0575f45acdd16277b98789c1d34a1f473e8ee6c03cdfc45542f21e5e3425"
        "88ef79a63000fd3919ed6433e3d0c153d19f33343939174e062209fc9c62ec08",
    ),
    (
        c.ApproveBatch(
            id="66667777888899990000111122223333",
            city="gimpo",
            batch="youth-2026-12",
            program="youth",
            rows=2,
            total=500000,
            root="ab" * 32,
        ),
        '{"batch":"youth-2026-12","city":"gimpo","id":"66667777888899990000111122223333",'
        '"program":"youth","root":"' + "ab" * 32 + '","rows":2,"total":500000,'
        '"type":"approve_batch"}',
        "80890a8136d7c38299280f7dae988aa69a88c133d919e51078af11d77082c5f1"
        "d1fccf979724d24cb14f1611232592b907daf97f39c27b27303d8e8f2c496909",
    ),
    (
        c.BatchCredit(
            id="77778888999900001111222233334444",
            city="gimpo",
            batch="youth-2026-12",
            row=1,
            wallet="w-0000002",
            amount=250000,
            evidence="cd" * 32,
            proof=["ef" * 32],
        ),
        '{"amount":250000,"batch":"youth-2026-12","city":"gimpo","evidence":"'
        + "cd" * 32
        + '","id":"77778888999900001111222233334444","proof":["'
        + "ef" * 32
        + '"],"row":1,"type":"batch_credit","wallet":"w-0000002"}',
        "be4ef858fc0461b79f3b94e58283f4cb88c1a8ef6292c239605b2f1af1aa258b"
        "52f0cb344531c034bf02456cf672439c5efc1b86f15a622ec73453e83eef5b0d",
    ),
    (
        c.Credit(
            id="88889999000011112222333344445555",
            city="gimpo",
            program="youth",
            wallet=W1,
            amount=300000,
            origin="youth-2026",
            evidence="cd" * 32,
        ),
        '{"amount":300000,"city":"gimpo","evidence":"'
        + "cd" * 32
        + '","id":"88889999000011112222333344445555","origin":"youth-2026",'
        '"program":"youth","type":"credit","wallet":"w-0000001"}',
        "b094cb42510a0e1e53a53a93794118b1b3fb6f04489c30e2ec11efa8642570c9"
        "3a3a7b8a4e2821efbf5b61e59052378bb789ba2935be8121ba096ea950b6ce02",
    ),
]


def _body_and_sig(command: c.Command) -> tuple[str, str]:
    envelope = sign_command(command, [KEY]).decode()
    body = envelope[len('{"body":') : envelope.index(',"sigs":')]
    return body, msgspec.json.decode(envelope)["sigs"][0]["sig"]


@pytest.mark.parametrize(("command", "body", "sig"), VECTORS, ids=lambda v: type(v).__name__)
def test_the_documented_vector(command: c.Command, body: str, sig: str) -> None:
    assert _body_and_sig(command) == (body, sig)
    _, decoded = c.decode_envelope(sign_command(command, [KEY]))
    assert decoded == command


def test_a_credit_without_evidence_encodes_as_before_the_field() -> None:
    bare = c.Credit(
        id="88889999000011112222333344445555",
        city="gimpo",
        program="youth",
        wallet=W1,
        amount=1,
        origin="t",
    )
    assert "evidence" not in _body_and_sig(bare)[0]


SALE_PROGRAM = (
    '{"city":"gimpo","id":"99999999999999999999999999999999","policy":{"allowed_categories":[],'
    '"areas":[],"daily_cap":0,"denied_categories":[],"holding_cap":1500000,"monthly_cap":0,'
    '"name":"구매 지역화폐","per_payment_cap":0,"refundable":false,"revenue_cap":0,'
    '"sale":{"bonus_monthly_cap":70000,"cancel_days":7,"cashback_cap":0,"mode":"discount",'
    '"monthly_limit":700000,"order_minutes":15,"rate_bp":1000,"refund_used_percent":60,'
    '"when_budget_out":"no_discount"},"transferable":false,"valid_days":0,"valid_until":""},'
    '"program":"general","type":"define_program"}'
)


def test_a_sold_program_and_its_defaults_left_out() -> None:
    rules = policy("구매 지역화폐", holding_cap=1500000, sale=default_sale())
    define = c.DefineProgram(id="9" * 32, city="gimpo", program="general", policy=rules)
    assert _body_and_sig(define)[0] == SALE_PROGRAM
    # The same body with `condition` spelt out at its default, in its sorted place.
    spelt = SALE_PROGRAM.replace('"areas":[],', '"areas":[],"condition":"",')
    assert spelt != SALE_PROGRAM
    envelope = b'{"body":' + spelt.encode() + b',"sigs":[{"key":"' + b"0" * 64 + b'","sig":"'
    envelope += b"0" * 128 + b'"}]}'
    with pytest.raises(c.DecodeError, match="canonical"):
        c.decode_envelope(envelope)
