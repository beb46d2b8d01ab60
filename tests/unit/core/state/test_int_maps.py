"""LEB128 varints, the unit of the record's packed maps: pinned bytes, one or many at a time."""

from __future__ import annotations

import base64

import pytest

from streams.core.state.int_maps import put_varint, put_varints, read_varints

# LEB128: seven bits a byte, low first, the high bit says another byte follows.
CASES = [
    (0, "00"),
    (1, "01"),
    (127, "7f"),
    (128, "8001"),
    (300, "ac02"),
    (16_383, "ff7f"),
    (16_384, "808001"),
    (2**35 + 5, "858080808001"),
]


@pytest.mark.parametrize(("number", "encoded"), CASES)
def test_one_varint_has_its_leb128_bytes(number: int, encoded: str) -> None:
    one = bytearray()
    put_varint(one, number)
    assert one.hex() == encoded


def test_many_varints_are_the_single_ones_in_order() -> None:
    numbers = [number for number, _ in CASES] * 2
    many = bytearray(b"\x09")  # appended after what is there
    put_varints(many, numbers)
    assert many.hex() == "09" + "".join(encoded for _, encoded in CASES) * 2
    assert read_varints(base64.b64encode(bytes(many[1:])).decode(), "test") == numbers


def test_no_numbers_append_nothing() -> None:
    out = bytearray(b"ab")
    put_varints(out, [])
    assert out == b"ab"
