"""The decision brief says values in words: a structured location by its division's name (Jiaxing art. 12
made locations GB/T 2260 divisions), not by its bare code."""

from services.web.brief import coded


def test_a_location_reads_as_the_division_name_with_its_code_then_the_address() -> None:
    zh, en = coded("location", {"division": "330402", "address": "东栅街道 1 号"})
    assert zh == "浙江省嘉兴市南湖区（330402） 东栅街道 1 号"
    assert en.startswith("Nanhu, Jiaxing, Zhejiang (330402)")


def test_a_municipality_leaves_out_its_city_level_and_an_empty_address_adds_nothing() -> None:
    assert coded("location", {"division": "310115", "address": None}) == (
        "上海市浦东新区（310115）", "Pudong New Area, Shanghai (310115)")


def test_an_unknown_code_is_shown_as_given() -> None:
    assert coded("location", {"division": "999999"})[0] == "999999（999999）"
