"""Search tokens that make Chinese names findable the way a Chinese user types.

Every indexed text becomes a set of *suffix tokens*; a query is then a prefix lookup on the
token index (one B-tree range, never a scan):
- each suffix of the name from every character: "华为" is a prefix of "华为技术有限公司";
- each suffix of the full pinyin from every syllable: "huawei" is a prefix of "huaweijishu…";
- each suffix of the pinyin initials: "hwjs" is a prefix of "hwjsyxgs";
- phone digits forwards and backwards ("r" + reversed), so the last digits find the number.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pypinyin import Style, lazy_pinyin
from pypinyin.seg.simpleseg import seg

MAX_CHARS = 12  # longest suffix token kept for a Chinese name, in characters
MAX_PINYIN = 24  # longest full-pinyin suffix token, in letters
MAX_INITIALS = 12
TYPE_PREFIX = "ztype"
_KEEP = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, only letters, digits and Chinese characters."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(_KEEP.findall(text))


@lru_cache(maxsize=200_000)
def _word_syllables(word: str) -> tuple[str, ...]:
    parts: list[str] = []
    for piece in lazy_pinyin(word, style=Style.NORMAL, errors=lambda s: list(s), strict=False):
        piece = "".join(c for c in piece.lower() if c.isalnum() and c.isascii())
        if piece:
            parts.append(piece)
    return tuple(parts)


def _syllables(text: str) -> tuple[str, ...]:
    """Pinyin of a name, cached per word (pypinyin's own segmentation): names share words, not whole names."""
    parts: list[str] = []
    for word in seg(text):
        parts.extend(_word_syllables(word))
    return tuple(parts)


def name_tokens(text: str) -> set[str]:
    clean = normalize(text)
    if not clean:
        return set()
    tokens: set[str] = set()
    for i in range(len(clean)):
        suffix = clean[i : i + MAX_CHARS]
        if len(suffix) >= 1:
            tokens.add(suffix)
    if _CJK.search(clean):
        syllables = _syllables(clean)
        initials = "".join(s[0] for s in syllables)
        for i in range(len(syllables)):
            tokens.add("".join(syllables[i:])[:MAX_PINYIN])
            tokens.add(initials[i : i + MAX_INITIALS])
    return tokens


def phone_tokens(value: str) -> set[str]:
    digits = "".join(c for c in value or "" if c.isdigit())
    if len(digits) < 3:
        return set()
    tokens = {digits, "r" + digits[::-1]}
    if digits.startswith("86") and len(digits) > 11:
        tokens.add(digits[2:])
    return tokens


def word_tokens(value: str) -> set[str]:
    """Emails, codes and other identifiers: each alphanumeric run as it is."""
    return set(_KEEP.findall(unicodedata.normalize("NFKC", value or "").lower()))


def type_token(object_type: str) -> str:
    return f"{TYPE_PREFIX}{object_type}"


def document(object_type: str, names=(), phones=(), words=()) -> str:
    tokens: set[str] = set()
    for text in names:
        tokens |= name_tokens(text)
    for value in phones:
        tokens |= phone_tokens(value)
    for value in words:
        tokens |= word_tokens(value)
    return " ".join([type_token(object_type), *sorted(tokens)])


def query_terms(query: str) -> list[list[str]]:
    """The query as AND-ed words, each an OR of token prefixes."""
    words = []
    compact = re.sub(r"[\s()+\-]", "", query or "")
    if compact.isdigit():  # a phone number typed with spaces or dashes is one number
        query = compact
    for raw in (query or "").split():
        word = normalize(raw)
        if not word:
            continue
        if word.isdigit():
            alternatives = [word] if len(word) < 3 else [word, "r" + word[::-1]]
        else:
            limit = MAX_CHARS if _CJK.search(word) else MAX_PINYIN
            alternatives = [word[:limit]]
        words.append(alternatives)
    return words
