"""Architecture strings: parsing, error positions, and fitting a spec to an input size."""

import pytest

from aelab.models.spec import FC, Conv, Pool, SpecError, check, format_spec, parse


@pytest.mark.parametrize("text", ["(64)5c-2p-(64)3c-2p-(64)3c-2p-10fc", "(32)5c-(32)3c-2p-(32)3c-16p",
                                  "(16)5c-(32)3c-16p"])
def test_papers_specs_round_trip(text):
    assert format_spec(parse(text)) == text


def test_parse_gives_layers_in_order():
    assert parse("(16)5c-(32)3c-2p-10fc") == [Conv(16, 5), Conv(32, 3), Pool(2), FC(10)]


def test_spaces_as_printed_in_the_paper_are_accepted():
    assert parse("(64) 5c-2p-(64) 3c") == [Conv(64, 5), Pool(2), Conv(64, 3)]


@pytest.mark.parametrize("text, position, token", [
    ("(16)5c-3x-10fc", 2, "3x"), ("(16)5c--2p", 2, ""), ("(16)5c-(32)3c-0p", 3, "0p"),
    ("(0)5c", 1, "(0)5c"), ("(16)5c-2p-10fc-2p", 4, "2p"), ("16c", 1, "16c"),
])
def test_parse_error_names_the_offending_token(text, position, token):
    with pytest.raises(SpecError) as err:
        parse(text)
    assert f"token {position} {token!r}" in str(err.value)


def test_parse_error_gives_the_character_position():
    with pytest.raises(SpecError, match="at character 7"):
        parse("(16)5c-5q")


def test_empty_spec_is_an_error():
    with pytest.raises(SpecError):
        parse("")


def test_check_walks_sizes_with_same_convolutions():
    shapes = check("(32)5c-(32)3c-2p-(32)3c-16p", 32)
    assert [(s.channels, s.size) for s in shapes] == [(32, 32), (32, 32), (32, 16), (32, 16), (32, 1)]


def test_check_floors_odd_sizes():
    assert check("(4)3c-2p", 5)[-1].size == 2


def test_pool_larger_than_the_map_is_an_error_naming_the_token():
    with pytest.raises(SpecError, match=r"token 5 '16p'.*8x8 map"):
        check("(8)3c-2p-(8)3c-2p-16p", 32)


@pytest.mark.parametrize("size", [0, -4])
def test_non_positive_input_size_is_an_error(size):
    with pytest.raises(SpecError, match="must be positive"):
        check("(8)3c", size)
