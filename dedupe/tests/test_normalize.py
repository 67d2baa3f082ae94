"""Normalisation before comparing, and the similarity score, on a hand-made Chinese test set:
abbreviations, region prefixes and suffixes, legal forms, full-width and traditional characters."""

import pytest

from dedupe.normalize import (
    match_keys,
    normalize_credit_code,
    normalize_email,
    normalize_name,
    normalize_person,
    normalize_phone,
)
from dedupe.service import abbreviation_forms, name_keys, name_score

SAME_COMPANY = [  # written two ways, the same core
    ("深圳市腾讯计算机系统有限公司", "腾讯计算机系统有限公司"),
    ("腾讯科技（深圳）有限公司", "腾讯科技有限公司"),
    ("腾讯科技(深圳)有限公司", "深圳腾讯科技"),
    ("广东省深圳市华信软件有限公司", "华信软件（深圳）有限公司"),
    ("北京百度网讯科技有限公司", "百度网讯科技"),
    ("百度在线网络技术（北京）有限公司", "百度在线网络技术有限公司"),
    ("華為技術有限公司", "华为技术有限公司"),
    ("ＨＵＡＷＥＩ　ＴＥＣＨ　Ｃｏ．，Ｌｔｄ．", "Huawei Tech Co., Ltd."),
    ("中国移动通信集团有限公司", "中国移动通信"),
    ("广州汽车集团股份有限公司", "广州汽车集团"),
    ("宁德时代新能源科技股份有限公司", "寧德時代新能源科技股份有限公司"),
    ("延边朝鲜族自治州大华科技有限公司", "延边大华科技有限公司"),
    ("广西壮族自治区南宁市华南物流有限责任公司", "广西华南物流"),
    ("Koninklijke Philips Electronics N.V.", "KONINKLIJKE PHILIPS ELECTRONICS, N. V."),
    ("The Coca-Cola Company", "Coca Cola Co"),
    ("Siemens Aktiengesellschaft", "SIEMENS AG"),
    ("IBM中国有限公司", "IBM"),
    ("浙江吉利控股集团有限公司", "吉利控股集团"),
    ("XX咨询合伙企业（有限合伙）", "XX咨询合伙企业"),
]
DIFFERENT_COMPANY = [
    ("中国移动通信集团广东有限公司深圳分公司", "中国移动通信集团有限公司"),  # a branch is a record of its own
    ("华信软件有限公司", "华信物流有限公司"),
    ("东方电气集团", "电气集团"),  # 东方 is a brand here, not the county-level city 东方市
    ("长安汽车", "汽车"),
]


@pytest.mark.parametrize("a, b", SAME_COMPANY)
def test_two_spellings_of_one_company_share_their_keys(a, b):
    assert match_keys(a) == match_keys(b)
    assert match_keys(a)[0]


@pytest.mark.parametrize("a, b", DIFFERENT_COMPANY)
def test_different_companies_keep_different_cores(a, b):
    assert normalize_name(a).core != normalize_name(b).core


def test_what_the_normaliser_strips_and_keeps():
    name = normalize_name("廣州汽車集團股份有限公司")
    assert (name.core, name.region, name.head, name.full) == ("汽车", "广州", "汽车", "广州汽车")
    assert normalize_name("腾讯科技（深圳）有限公司").region_codes == ("4403",)
    branch = normalize_name("国网江苏省电力有限公司南京供电分公司")
    assert branch.branch and branch.core.endswith("分公司")
    assert normalize_name("Global Hitachi Netherlands Storage Technologies").head == "glob"
    assert normalize_name("  ").core == "" and match_keys("") == ("", "")
    assert normalize_name("北京银行").core == "银行"  # the region goes; the score tells cities apart


ABBREVIATIONS = [  # (full name, what people call it): the score must reach the default threshold of 85
    ("紫光国芯微电子股份有限公司", "紫光国微"),
    ("广州汽车集团股份有限公司", "广汽集团"),
    ("上海汽车集团股份有限公司", "上汽集团"),
    ("北京汽车集团有限公司", "北汽集团"),
    ("中国南方航空股份有限公司", "南航"),
    ("中国工商银行股份有限公司", "工行"),
    ("中国工商银行股份有限公司", "工商银行"),
    ("中国石油化工集团有限公司", "中石化"),
    ("中国海洋石油集团有限公司", "中海油"),
    ("招商银行股份有限公司", "招行"),
    ("上海浦东发展银行股份有限公司", "浦发银行"),
    ("华为技术有限公司", "华为"),
    ("腾讯科技（深圳）有限公司", "腾讯"),
    ("杭州海康威视数字技术股份有限公司", "海康威视"),
    ("台湾积体电路制造股份有限公司", "台积电"),
    ("鴻海精密工業股份有限公司", "鸿海精密"),
    ("中芯国际集成电路制造有限公司", "中芯国际"),
    ("TCL科技集团股份有限公司", "TCL"),
]


@pytest.mark.parametrize("full, short", ABBREVIATIONS)
def test_abbreviations_score_as_duplicates_both_ways(full, short):
    a, b = normalize_name(full), normalize_name(short)
    assert name_score(b, a) >= 85
    assert name_score(a, b) == name_score(b, a)


def test_scores_rank_evidence_sensibly():
    score = lambda a, b: name_score(normalize_name(a), normalize_name(b))  # noqa: E731
    assert score("华为技术有限公司", "華為技術（深圳）有限公司") == 100
    assert score("北京银行股份有限公司", "上海银行股份有限公司") < 60  # same core, different cities
    assert score("腾讯科技（深圳）有限公司", "腾讯科技（北京）有限公司") < 85
    assert score("广东移动通信", "深圳市移动通信有限公司") == 100  # 深圳 lies in 广东
    assert score("中国移动通信集团有限公司", "中国移动通信集团广东有限公司深圳分公司") <= 70
    assert score("紫光国微", "紫光国芯微电子") > score("广汽", "广州汽车")  # longer abbreviations are surer
    assert score("华信软件有限公司", "华信物流有限公司") < 85
    assert score("Microsoft Corporation", "Microsoft Corp") == 100
    assert score("中国石化", "德宏石化有限公司") < 85  # national vs a local company that happens to share the core
    assert score("中国移动通信集团广东有限公司", "广东移动通信有限公司") == 100  # the national name names 广东 too


def test_regions_are_stripped_one_inside_the_other_only():
    assert normalize_name("广东省深圳市华信软件有限公司").core == "华信软件"
    assert normalize_name("上海市德宏汽车零部件有限公司").core == "德宏汽车零部件"  # 德宏 is a brand here
    assert normalize_name("中国广东华信软件").core == "华信软件"  # anything may follow 中国


def test_abbreviation_lookups_and_keys():
    assert {"广汽", "广汽车"} <= abbreviation_forms(normalize_name("广州汽车集团股份有限公司"))
    assert {"南航", "南方航"} <= abbreviation_forms(normalize_name("中国南方航空股份有限公司"))
    assert "广汽" in name_keys(normalize_name("广州汽车集团股份有限公司"))  # region initial + core
    assert {"工银", "工行"} <= name_keys(normalize_name("中国工商银行股份有限公司"))
    assert name_keys(normalize_name("IBM Corp")) == set()


def test_other_values_normalise_too():
    assert normalize_phone("１３８ ００１３ ８０００") == "+8613800138000"
    assert normalize_phone("010-6275 1234") == normalize_phone("+86 10 62751234") == "+861062751234"
    assert normalize_email("  Li.Lei@Example.COM ") == "li.lei@example.com"
    assert normalize_credit_code(" ９１４４０３００７０８４６１１３６ｔ ") == "91440300708461136T"
    assert normalize_person("張 三") == normalize_person("张三") == "张三"
    assert normalize_person("Li  Lei") == "lilei"


@pytest.mark.parametrize(
    ("written", "simplified"),
    [
        ("明瞭科技", "明了科技"),  # phrases whose characters do not change on their own
        ("反覆电子", "反复电子"),
        ("沈阳重覆机械", "沈阳重复机械"),
        ("甦醒医疗", "苏醒医疗"),
        ("華為技術", "华为技术"),
        ("\U00030ede面馆", "\U00030edd面馆"),  # outside the basic plane
        ("腾讯科技", "腾讯科技"),  # nothing to convert
    ],
)
def test_traditional_text_is_converted_whatever_the_shortcut_for_simplified_text(written, simplified):
    from dedupe.normalize import _convertible, simplify

    assert _convertible() is not None  # the shortcut is in use: the converter's keys were read
    assert simplify(written) == simplified
    if written.startswith(("明瞭", "反覆")):  # the duplicate check's key, as stored before the shortcut
        assert normalize_name(written + "有限公司").core == simplified
