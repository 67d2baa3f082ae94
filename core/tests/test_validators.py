import csv
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from core.regions import regions
from core.validators import format_phone, normalize_phone, uscc_check_char, validate_cn_phone, validate_credit_code

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "regions"


@pytest.mark.parametrize("code", ["914403001922038216", "91110000100010433L"])
def test_real_credit_codes_pass(code):
    validate_credit_code(code)


@pytest.mark.parametrize("code", ["914403001922038217", "91440300192203821", "9144030019220382IO", ""])
def test_bad_credit_codes_fail(code):
    with pytest.raises(ValidationError):
        validate_credit_code(code)


def test_check_char_is_computed_from_the_first_17():
    assert uscc_check_char("91440300192203821") == "6"


@pytest.mark.parametrize(
    "raw, e164, shown",
    [
        ("13800138000", "+8613800138000", "138 0013 8000"),
        ("+86 138-0013-8000", "+8613800138000", "138 0013 8000"),
        ("010-12345678", "+861012345678", "010 1234 5678"),
        ("(021) 6888 1234", "+862168881234", "021 6888 1234"),
    ],
)
def test_phones_normalise_to_e164_and_show_in_national_format(raw, e164, shown):
    validate_cn_phone(raw)
    assert normalize_phone(raw) == e164
    assert format_phone(e164) == shown


@pytest.mark.parametrize("raw", ["12345", "1380013800", "abc", "23800138000"])
def test_bad_phones_fail(raw):
    with pytest.raises(ValidationError):
        validate_cn_phone(raw)


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data/regions not present")
def test_region_codes_agree_with_the_national_statistics_list():
    r = regions()
    with open(SHARED / "provinces.csv", encoding="utf-8") as f:
        provinces = {row["code"]: row["name"] for row in csv.DictReader(f)}
    with open(SHARED / "cities.csv", encoding="utf-8") as f:
        cities = {row["code"]: (row["name"], row["provinceCode"]) for row in csv.DictReader(f)}
    with open(SHARED / "areas.csv", encoding="utf-8") as f:
        areas = {row["code"]: (row["name"], row["cityCode"]) for row in csv.DictReader(f)}
    assert dict(r.provinces()) == provinces
    for code, (name, province) in cities.items():
        assert r.names[code] == name and r.parent[code] == province
    for code, (name, city) in areas.items():
        assert r.names[code] == name and r.parent[code] == city
    assert r.validate("44", "4403", "440305") == {}
    assert "district_code" in r.validate("44", "4403", "110101")
