"""Validators for Chinese business data: unified social credit codes and phone numbers."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# GB 32100-2015: 31 characters (no I, O, S, V, Z) and the weights of the 17 leading positions.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def validate_credit_code(value: str) -> None:
    code = (value or "").strip().upper()
    if len(code) != 18:
        raise ValidationError(_("A unified social credit code has 18 characters."), code="credit_code_length")
    if any(c not in USCC_CHARSET for c in code):
        raise ValidationError(
            _("A unified social credit code uses digits and capital letters other than I, O, S, V and Z."),
            code="credit_code_charset",
        )
    if uscc_check_char(code[:17]) != code[17]:
        raise ValidationError(
            _("The check digit of this unified social credit code is wrong."), code="credit_code_check"
        )


def parse_cn_phone(value: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def normalize_phone(value: str) -> str:
    """E.164 for a valid number (+8613800138000); the stripped input otherwise."""
    value = (value or "").strip()
    if not value:
        return ""
    number = parse_cn_phone(value)
    if number is None:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(value: str) -> str:
    """National format for Chinese numbers (138 0013 8000, 010 1234 5678), international otherwise."""
    if not value:
        return ""
    number = parse_cn_phone(value)
    if number is None:
        return value
    if number.country_code == 86:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def validate_cn_phone(value: str) -> None:
    if value and parse_cn_phone(value) is None:
        raise ValidationError(
            _("Enter a valid phone number, such as 13800138000 or 010-12345678."), code="invalid_phone"
        )


def validate_plausible_moment(value) -> None:
    """A time a sales record can carry: years 1900–2100. Year 1 in Asia/Shanghai (+08:05:43 then) is
    stored by PostgreSQL as a BC timestamp it then refuses to read back, breaking every page showing it."""
    if value is not None and not 1900 <= value.year <= 2100:
        raise ValidationError(_("Enter a date between 1900 and 2100."), code="out_of_range")
