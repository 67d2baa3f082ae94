"""Normalisation before comparing: the same company written two ways must give the same key.

A company name is reduced to its *core*: full-width → half-width (NFKC), traditional → simplified
(OpenCC), lower case, brackets and punctuation gone, region prefixes and suffixes (广东省, 深圳市, 深圳,
（北京）, 中国) and legal forms (有限公司, 股份有限公司, 集团, Co., Ltd., GmbH, N.V. …) stripped:

    深圳市腾讯计算机系统有限公司  → region 深圳, core 腾讯计算机系统
    腾讯科技（深圳）有限公司      → region 深圳, core 腾讯科技
    廣州汽車集團股份有限公司      → region 广州, core 汽车
    KONINKLIJKE PHILIPS N.V.      → core "koninklijke philips"

The core is stored on the record (`match_name`), its first characters are the blocking key (the
head: a range of the match_name index). The region is kept aside: it lets an abbreviation use it
(广汽 ← 广州汽车) and tells two same-named companies in different cities apart when scoring.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from core.validators import normalize_phone as _normalize_phone

NATIONAL = "中"  # the region of a name that starts with 中国: national, no place
HEAD_CJK = 2  # characters of a Chinese core that form the blocking key
HEAD_LATIN = 4  # letters of a Latin core that form the blocking key (two letters would block nothing)
MAX_CORE = 200

_CJK_CHAR = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_CHAR}]")
_TOKENS = re.compile(f"[{_CJK_CHAR}]+|[0-9a-z]+")
_BRACKET_OPENERS = frozenset("([【〔《<{")
_BRACKETS = re.compile(r"[(\[【〔《<{]([^()\[\]【】〔〕《》<>{}]*)[)\]】〕》>}]")
_PERSON_DROP = re.compile(r"[\s·•.\-_'’]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Chinese legal forms, stripped from the end (longest first, repeatedly). 分公司 is not one of
# them: a branch is a record of its own (a child account), not a second spelling of its parent.
CN_LEGAL_FORMS = tuple(
    sorted(
        {
            "集团股份有限公司",
            "集团有限责任公司",
            "集团有限公司",
            "控股集团有限公司",
            "控股股份有限公司",
            "控股有限公司",
            "股份有限公司",
            "有限责任公司",
            "有限公司",
            "股份公司",
            "集团公司",
            "控股集团",
            "控股",
            "集团",
            "总公司",
            "公司",
            "有限合伙",
            "普通合伙",
            "合伙企业",
            "株式会社",
        },
        key=len,
        reverse=True,
    )
)
# Latin legal forms, dropped as trailing words (after single letters are joined: "n v" → "nv").
LATIN_LEGAL_FORMS = _words(
    "co company cos corp corporation inc incorporated ltd limited llc llp lp plc gmbh mbh ag kg kgaa se "
    "sa sas sarl srl spa bv nv ab oy oyj as asa aps kk pte pty pvt bhd sdn tbk ltda cia ca"
)
# Words that only ever name a legal form, dropped wherever they stand (Dutch, German, French forms too).
LATIN_LEGAL_WORDS = _words(
    "ltd llc llp plc gmbh mbh kgaa inc incorporated corp corporation bv nv naamloze naamlooze "
    "vennootschap besloten aktiengesellschaft gesellschaft beschrankter haftung societe anonyme sarl srl "
    "spa pte pty pvt bhd"
)
LATIN_LEADING = frozenset({"the"})
# Branch markers: a name ending in one of these is a branch of another company.
BRANCH_MARKERS = ("分公司", "分行", "支行", "分厂", "分院", "分所", "办事处", "营业部", "分部", "分店", "分中心")

ETHNIC_GROUPS = _words(
    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 "
    "畲 高山 拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 "
    "阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 "
    "门巴 珞巴 基诺 "
)
_PLACEHOLDER_REGIONS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _convertible() -> frozenset[str] | None:
    """Characters that tell a text may need converting: those the converter changes on their own, and for
    each key of its dictionaries (t2s: phrases, characters, compatibility ideographs) with none of those,
    one of the characters it replaces (chosen greedily, fewest in all). A text with none of them matches no key
    that would change it, so the converter would return it unchanged and is skipped: the dearest step
    for a name that needs none. The keys are read once per process with the `opencc_dict` tool the
    package ships (~0.1 s); None (always convert) without it."""
    import json
    import subprocess
    import tempfile
    from pathlib import Path

    import opencc

    base = Path(opencc.__file__).parent / "clib"
    tool, share = base / "bin" / "opencc_dict", base / "share" / "opencc"
    try:
        config = json.loads((share / "t2s.json").read_text())
        files = [step["dict"] for step in config.get("normalization", []) + config["conversion_chain"]]
        files = [d for group in files for d in group.get("dicts", [group])]
        keys: set[str] = set()
        with tempfile.TemporaryDirectory() as scratch:
            for entry in files:
                out = Path(scratch) / "dict.txt"
                subprocess.run(  # noqa: S603 - the package's own tool and dictionaries, no outside input
                    [str(tool), "-i", str(share / entry["file"]), "-o", str(out), "-f", entry["type"], "-t", "text"],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
                keys.update(line.split("\t", 1)[0] for line in out.read_text(encoding="utf-8").splitlines())
    except (OSError, ValueError, KeyError, subprocess.SubprocessError):
        return None
    if not keys:
        return None
    convert = _converter().convert
    trigger = {char for key in keys for char in key if convert(char) != char}
    # keys that change only as a whole (明瞭 → 明了; 有序 → 有序 changes nothing): one character of each,
    # among those the conversion replaces (瞭, not 明)
    uncovered = {}
    for key in keys:
        value = convert(key)
        if value != key and trigger.isdisjoint(key):
            changed = {k for k, v in zip(key, value, strict=False) if k != v} if len(value) == len(key) else set()
            uncovered[key] = changed or set(key)
    while uncovered:
        counts: dict[str, int] = {}
        for candidates in uncovered.values():
            for char in candidates:
                counts[char] = counts.get(char, 0) + 1
        trigger.add(max(sorted(counts), key=counts.get))
        uncovered = {key: candidates for key, candidates in uncovered.items() if trigger.isdisjoint(key)}
    return frozenset(trigger)


def simplify(text: str) -> str:
    """NFKC (full-width → half-width), traditional → simplified, lower case."""
    text = unicodedata.normalize("NFKC", text or "")
    keys = _convertible()
    if (keys is None and _CJK.search(text)) or (keys is not None and not keys.isdisjoint(text)):
        text = _converter().convert(text)
    return text.lower()


def short_region_name(name: str) -> str:
    """广西壮族自治区 → 广西, 延边朝鲜族自治州 → 延边, 深圳市 → 深圳, 阿里地区 → 阿里."""
    for suffix in ("特别行政区", "自治区", "自治州", "自治县", "自治旗", "地区", "新区", "林区", "盟"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            name = name[: -len(suffix)]
            break
    else:
        if name[-1:] in ("省", "市", "区", "县", "旗") and len(name) > 2:
            return name[:-1]
        return name
    changed = True
    while changed:  # strip the ethnic groups named before 自治州: 恩施土家族苗族 → 恩施
        changed = False
        for group in ETHNIC_GROUPS:
            for tail in (group + "族", group):
                if name.endswith(tail) and len(name) - len(tail) >= 2:
                    name = name[: -len(tail)]
                    changed = True
                    break
            if changed:
                break
    return name


@dataclass(frozen=True)
class RegionTable:
    """Region names → codes. `affix` names may be stripped at the start or end of a name (provinces and
    cities in full or short form, districts in full form only: 朝阳 or 长安 alone are brands as often as
    places); `bracket` names are also recognised inside brackets, where short district names are safe."""

    affix: dict[str, tuple[str, ...]]
    bracket: dict[str, tuple[str, ...]]
    affix_by_first: dict[str, tuple[str, ...]]  # by their first two characters (every name has two or more)
    affix_by_last: dict[str, tuple[str, ...]]


@lru_cache(maxsize=1)
def region_table() -> RegionTable:
    from core.regions import regions

    affix: dict[str, set[str]] = {"中国": {""}, "中华人民共和国": {""}}
    bracket: dict[str, set[str]] = {"中国": {""}, "中华人民共和国": {""}}
    for code, name in regions().names.items():
        if name in _PLACEHOLDER_REGIONS or name.endswith("行政区划"):
            continue
        short = short_region_name(name)
        bracket.setdefault(name, set()).add(code)
        if len(short) >= 2:
            bracket.setdefault(short, set()).add(code)
        if len(name) >= 2:  # a one-character place name would eat the first character of a company
            affix.setdefault(name, set()).add(code)
        if len(code) <= 4 and len(short) >= 2:
            affix.setdefault(short, set()).add(code)
    by_first: dict[str, list[str]] = {}
    by_last: dict[str, list[str]] = {}
    for name in affix:
        by_first.setdefault(name[:2], []).append(name)
        by_last.setdefault(name[-1], []).append(name)
    longest_first = {k: tuple(sorted(v, key=len, reverse=True)) for k, v in by_first.items()}
    longest_last = {k: tuple(sorted(v, key=len, reverse=True)) for k, v in by_last.items()}
    return RegionTable(
        affix={k: tuple(sorted(v)) for k, v in affix.items()},
        bracket={k: tuple(sorted(v)) for k, v in bracket.items()},
        affix_by_first=longest_first,
        affix_by_last=longest_last,
    )


@dataclass(frozen=True)
class Name:
    """A normalised company name."""

    core: str  # what is stored as match_name
    region: str = ""  # the region prefix as written in short form (广州), "中" for 中国; "" when none
    region_codes: tuple[str, ...] = ()  # every region the name mentions, as division codes
    branch: bool = False  # ends in 分公司, 支行 …

    # Region + core: what an abbreviation may draw its first character from (广州汽车 → 广汽).
    full: str = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        full = (self.region + self.core) if self.region and is_cjk(self.core) else self.core
        object.__setattr__(self, "full", full)

    @property
    def head(self) -> str:
        return head_of(self.core)


def is_cjk(text: str) -> bool:
    """Does the text start with a Chinese character?"""
    if not text:
        return False
    c = text[0]
    return "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" or "\uf900" <= c <= "\ufaff"


def head_of(core: str) -> str:
    if not core:
        return ""
    if is_cjk(core):
        return core[:HEAD_CJK]
    return core.replace(" ", "")[:HEAD_LATIN]


def bucket_prefix(core: str) -> str:
    """What the stored cores of a name's blocking bucket start with: the head, as written in the core.
    Latin cores keep their spaces (ge healthcare) while the head drops them (gehe), so the prefix runs
    to the head's last letter: "ge he"."""
    if not core or is_cjk(core):
        return head_of(core)
    letters = 0
    for index, char in enumerate(core):
        if char != " ":
            letters += 1
            if letters == HEAD_LATIN:
                return core[: index + 1]
    return core


def _strip_cn_legal(run: str) -> str:
    if run.endswith(BRANCH_MARKERS) or not run.endswith(CN_LEGAL_FORMS):  # 深圳分公司 keeps its 公司
        return run
    changed = True
    while changed and run:
        changed = False
        for form in CN_LEGAL_FORMS:
            if run.endswith(form) and len(run) > len(form):
                run = run[: -len(form)]
                changed = True
                break
    return run


def _strip_region_prefix(run: str, found: list[str], codes: list[str]) -> str:
    """广东省深圳市南山区… → …: regions are stripped one after the other only while each lies within the
    previous one (上海市德宏汽车 keeps 德宏, a brand here rather than the prefecture in Yunnan)."""
    table = region_table()
    within: tuple[str, ...] = ()  # codes of the region stripped last
    changed = True
    while changed and run:
        changed = False
        for name in table.affix_by_first.get(run[:2], ()):
            if not run.startswith(name) or len(run) - len(name) < 2:
                continue
            name_codes = tuple(c for c in table.affix[name] if c)
            if within and not any(c.startswith(w) for c in name_codes for w in within):
                continue  # not inside the region before it (中国 has no code: anything may follow it)
            run = run[len(name) :]
            found.append(name)
            codes.extend(name_codes)
            within = name_codes
            changed = True
            break
    return run


def _strip_region_suffix(run: str, codes: list[str]) -> str:
    table = region_table()
    for name in table.affix_by_last.get(run[-1:], ()):
        if run.endswith(name) and len(run) - len(name) >= 2:
            codes.extend(table.affix[name])
            return run[: -len(name)]
    return run


def _join(tokens: list[str]) -> str:
    out = ""
    for token in tokens:
        if out and not is_cjk(token) and not is_cjk(out[-1]):
            out += " "
        out += token
    return out


def _latin_words(tokens: list[str]) -> list[str]:
    """Join runs of single letters (n v → nv, s p a → spa) so dotted legal forms are recognised."""
    out: list[str] = []
    joining = False
    for token in tokens:
        single = len(token) == 1 and token.isascii() and token.isalpha()
        if single and joining:
            out[-1] += token
            continue
        out.append(token)
        joining = single
    return out


def _parse_name(text: str) -> tuple[str, list[str], list[str], list[str]]:
    """(core, region prefixes stripped, regions found in brackets, region codes) of a company name."""
    text = simplify(text)
    codes: list[str] = []
    if not text.strip():
        return "", [], [], codes
    bracket_regions: list[str] = []
    table = region_table()

    def bracket(match: re.Match) -> str:
        inner = "".join(_TOKENS.findall(match.group(1)))
        if not inner:
            return " "
        if inner in table.bracket:
            codes.extend(table.bracket[inner])
            bracket_regions.append(inner)
            return " "
        if inner in CN_LEGAL_FORMS or inner in LATIN_LEGAL_FORMS:
            return " "
        return f" {match.group(1)} "

    previous = None if not _BRACKET_OPENERS.isdisjoint(text) else text  # most names have no brackets
    while previous != text:  # nested or repeated brackets
        previous = text
        text = _BRACKETS.sub(bracket, text)
    tokens: list[str] = []
    for token in _latin_words(_TOKENS.findall(text)):
        if tokens and is_cjk(token) and is_cjk(tokens[-1]):  # 腾讯科技 (深圳) 有限公司: one run again
            tokens[-1] += token
        else:
            tokens.append(token)
    while tokens and tokens[0] in LATIN_LEADING and len(tokens) > 1:
        tokens.pop(0)
    if len(tokens) > 1:  # legal words and stray single letters inside a Latin name
        kept = [t for t in tokens if t not in LATIN_LEGAL_WORDS and not (len(t) == 1 and t.isascii())]
        tokens = kept or tokens[:1]
    # trailing legal forms and regions, Latin and Chinese alike
    changed = True
    while changed and tokens:
        changed = False
        last = tokens[-1]
        if not is_cjk(last):
            if last in LATIN_LEGAL_FORMS and len(tokens) > 1:
                tokens.pop()
                changed = True
            continue
        if len(tokens) > 1 and (last in CN_LEGAL_FORMS or last in table.affix):  # IBM 中国, ABC 有限公司
            codes.extend(table.affix.get(last, ()))
            tokens.pop()
            changed = True
            continue
        stripped = _strip_cn_legal(last)
        if stripped != last:
            tokens[-1] = stripped
            changed = True
            continue
        stripped = _strip_region_suffix(last, codes)
        if stripped != last:
            tokens[-1] = stripped
            changed = True
    found: list[str] = []
    if tokens and is_cjk(tokens[0]):
        tokens[0] = _strip_region_prefix(tokens[0], found, codes)
    core = (tokens[0] if len(tokens) == 1 else _join(tokens))[:MAX_CORE]
    return core, found, bracket_regions, codes


def name_core(text: str) -> str:
    """The core alone (what is stored as match_name), for a bulk import's names, most of them new: no
    cache, no Name built."""
    return _parse_name(text)[0]


@lru_cache(maxsize=50_000)
def normalize_name(text: str) -> Name:
    """The normalised form of a company name (cached: the same names come back in every check)."""
    core, found, bracket_regions, codes = _parse_name(text)
    region = ""
    if found:
        region = NATIONAL if found[0] in ("中国", "中华人民共和国") else short_region_name(found[0])
    elif bracket_regions and bracket_regions[0] not in ("中国", "中华人民共和国"):
        region = bracket_regions[0]
    branch = core.endswith(BRANCH_MARKERS)
    return Name(core=core, region=region, region_codes=tuple(dict.fromkeys(c for c in codes if c)), branch=branch)


def match_keys(text: str) -> tuple[str, str]:
    """(the core stored as match_name, the head its blocking bucket starts with)."""
    name = normalize_name(text or "")
    return name.core, name.head


def normalize_phone(value: str) -> str:
    """E.164 (+8613800138000) for a valid number, the stripped input otherwise."""
    return _normalize_phone(unicodedata.normalize("NFKC", value or ""))


def normalize_email(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "").strip().lower()


def normalize_credit_code(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "").strip().upper()


def normalize_person(value: str) -> str:
    """A person's name: 張 三 → 张三, "Li Lei" → "lilei"."""
    return _PERSON_DROP.sub("", simplify(value))
