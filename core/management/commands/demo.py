"""Build a realistic demo company: a group org chart, sales staff, accounts in group trees,
contacts, leads, opportunities and follow-ups, plus their search index.

Everything goes through bulk_create in batches, so `--scale 1000000` (one million leads) builds
in minutes on SQLite. All demo users share one password, DEMO_PASSWORD: it is for local demos
only and must never be used on a real installation.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from random import Random

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from faker import Faker
from pypinyin import Style, lazy_pinyin

from accounts.choices import AccountStatus, AccountType, Industry
from accounts.models import Account, Tag
from contacts.choices import Attitude, BuyingRole
from contacts.models import Contact
from core.regions import regions
from core.validators import uscc_check_char
from dedupe.service import backfill_keys
from followups.choices import FollowUpType
from followups.models import FollowUp
from leads.choices import InvalidReason, LeadSource, LeadStatus
from leads.models import Lead
from opportunities.choices import OpportunityStatus
from opportunities.models import Opportunity, Stage
from org.models import Department, Role, User
from search.indexer import bulk_index

DEMO_PASSWORD = "tide-demo-2026"  # demo data only, printed by `manage.py demo_logins`
DEMO_EMAIL_DOMAIN = "tide-demo.example"  # reserved TLD: demo mail never reaches anyone
CHUNK = 25_000  # records per transaction and per search-index pass
BATCH = 2_000  # rows per INSERT at most (SQLite lowers it to its parameter limit)
DAY = 86_400
# Distinct lead companies at most; below the 200,000 entries of search.tokens' pinyin cache.
LEAD_COMPANIES = 150_000

# --- the sales organisation -------------------------------------------------------------------

# subsidiary, username suffix, [(market department, [province codes it covers], team under it or "")]
SUBSIDIARIES = [
    ("华东分公司", "east", [("上海营销中心", ["31", "33"], "上海政企大客户组"), ("江苏营销中心", ["32", "34"], "")]),
    ("华南分公司", "south", [("广东营销中心", ["44", "46"], "深圳行业客户组"), ("闽桂营销中心", ["35", "45"], "")]),
    (
        "华北分公司",
        "north",
        [("北京营销中心", ["11", "12", "13"], "央企客户组"), ("山东营销中心", ["37", "14", "41"], "")],
    ),
    ("西南分公司", "southwest", [("四川营销中心", ["51", "54"], ""), ("重庆营销中心", ["50", "52", "53"], "")]),
]
# Where the business is: covered provinces get most accounts, the big economies more than others.
PROVINCE_WEIGHTS = {
    "44": 14,
    "32": 12,
    "33": 10,
    "31": 10,
    "11": 10,
    "37": 7,
    "51": 6,
    "50": 4,
    "35": 4,
    "34": 3,
    "12": 3,
    "13": 3,
    "41": 3,
    "14": 2,
    "45": 2,
    "46": 1,
    "52": 2,
    "53": 2,
    "54": 1,
}

# --- names ----------------------------------------------------------------------------------------

BRAND_CHARS = (
    "华中新恒盛天宏泰瑞达鑫源通信博创联科海安康德昌明远升凯嘉晨锐睿智星辰宇航汇鼎诚润益正元和兴丰永力方立东南"
    "金银光云峰长格林晟弘卓越思捷迅腾飞翔美佳英志启航拓展致精诺维亿万利顺福祥铭轩浩宸洲"
)
BRAND_WORDS = [
    "华信",
    "中科",
    "天宇",
    "恒通",
    "海康",
    "金山",
    "东方",
    "长城",
    "蓝海",
    "星河",
    "远景",
    "正泰",
    "宏达",
    "新华",
    "瑞丰",
    "鼎盛",
    "同方",
    "太极",
    "神州",
    "浪潮",
    "四维",
    "九州",
    "万达",
    "银河",
    "国泰",
    "博雅",
    "创维",
    "天源",
    "汇丰",
    "北斗",
    "中创",
    "先锋",
    "卓越",
    "领航",
    "启明",
    "华夏",
    "远大",
    "红旗",
    "长江",
    "黄河",
    "泰山",
    "昆仑",
    "峨眉",
    "珠江",
    "钱塘",
]
INDUSTRY_WORDS = {
    Industry.MANUFACTURING: ["机械", "智能装备", "精密制造", "重工", "新材料", "汽车零部件", "电气", "自动化"],
    Industry.HIGH_TECH: ["电子", "微电子", "半导体", "光电", "通信设备", "集成电路", "电子科技"],
    Industry.SOFTWARE: ["软件", "信息技术", "网络科技", "数据科技", "云计算", "科技", "数字技术", "智能科技"],
    Industry.ENERGY: ["能源", "新能源", "电力", "石化", "燃气", "光伏", "储能科技"],
    Industry.HEALTHCARE: ["医疗器械", "生物医药", "医药", "健康科技", "生物科技"],
    Industry.TRANSPORT: ["物流", "供应链", "运输", "航运", "快递", "港务"],
    Industry.TELECOM: ["通信", "通信技术", "信息通信", "网络通信"],
    Industry.FINANCE: ["投资", "融资租赁", "资产管理", "保险代理", "金融服务"],
    Industry.RETAIL: ["商贸", "食品", "连锁", "电子商务", "日化", "超市"],
    Industry.CONSTRUCTION: ["建设", "建筑工程", "置业", "建材", "工程设计", "市政工程"],
    Industry.MEDIA: ["传媒", "文化传播", "影视", "广告"],
    Industry.EDUCATION: ["教育科技", "培训", "教育咨询"],
    Industry.GOVERNMENT: ["城市运营", "城投", "公共服务"],
    Industry.OTHER: ["实业", "咨询", "服务", "贸易"],
}
INDUSTRY_WEIGHTS = {
    Industry.MANUFACTURING: 18,
    Industry.HIGH_TECH: 10,
    Industry.SOFTWARE: 12,
    Industry.ENERGY: 6,
    Industry.HEALTHCARE: 7,
    Industry.TRANSPORT: 6,
    Industry.TELECOM: 3,
    Industry.FINANCE: 5,
    Industry.RETAIL: 8,
    Industry.CONSTRUCTION: 7,
    Industry.MEDIA: 3,
    Industry.EDUCATION: 5,
    Industry.GOVERNMENT: 6,
    Industry.OTHER: 4,
}
SUFFIXES = ["有限公司"] * 11 + ["股份有限公司"] * 4 + ["有限责任公司"] * 2
GOV_BODIES = [
    "数据资源管理局",
    "交通运输局",
    "政务服务管理办公室",
    "公安局",
    "住房和城乡建设局",
    "财政局",
    "教育局",
    "卫生健康委员会",
    "生态环境局",
    "应急管理局",
    "大数据中心",
    "市场监督管理局",
    "税务局",
    "自然资源和规划局",
]
HOSPITALS = ["第一人民医院", "第二人民医院", "人民医院", "中医院", "妇幼保健院", "中心医院", "儿童医院", "肿瘤医院"]
SCHOOLS = ["职业技术学院", "第一中学", "实验中学", "理工学院", "师范学院", "技师学院", "外国语学校", "开放大学"]
ROADS = [
    "科技路",
    "人民路",
    "建设大道",
    "中山路",
    "解放路",
    "高新大道",
    "软件园路",
    "创业路",
    "金融街",
    "世纪大道",
    "长江路",
    "学院路",
    "工业大道",
    "滨江大道",
    "新华路",
    "东风路",
    "和平路",
    "光明大道",
]
TITLES = [
    ("总经理", 3),
    ("副总经理", 3),
    ("采购经理", 8),
    ("采购专员", 5),
    ("技术总监", 6),
    ("IT主管", 8),
    ("信息中心主任", 5),
    ("财务总监", 3),
    ("项目经理", 8),
    ("工程师", 6),
    ("行政主管", 3),
    ("运维经理", 4),
    ("CIO", 2),
    ("董事长", 1),
]
CONTACT_DEPARTMENTS = ["总经办", "采购部", "信息中心", "技术部", "财务部", "运维部", "行政部", "项目部", "生产部"]
MOBILE_PREFIXES = [
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "157",
    "158",
    "159",
    "182",
    "183",
    "187",
    "188",
    "130",
    "131",
    "132",
    "155",
    "156",
    "185",
    "186",
    "176",
    "133",
    "153",
    "177",
    "180",
    "181",
    "189",
    "173",
    "199",
    "166",
    "198",
]
AREA_CODES = {
    "11": "10",
    "12": "22",
    "31": "21",
    "50": "23",
    "4401": "20",
    "4403": "755",
    "3301": "571",
    "3201": "25",
    "5101": "28",
    "4201": "27",
    "3702": "532",
    "3701": "531",
    "3502": "592",
    "3205": "512",
}
MAIL_DOMAINS = ["163.com", "qq.com", "126.com", "sina.com", "foxmail.com", "139.com"]
TAGS = ["重点客户", "国企", "上市公司", "招投标", "渠道合作", "高潜力", "续约", "新签", "政府采购", "信创"]
PROJECTS = [
    "数据中心扩容项目",
    "智慧园区建设项目",
    "ERP系统升级",
    "网络安全等保改造",
    "云桌面采购",
    "视频会议系统",
    "智能制造MES项目",
    "呼叫中心升级",
    "办公网络改造",
    "年度运维服务",
    "服务器集中采购",
    "数字化转型咨询",
    "CRM系统建设",
    "智能仓储项目",
    "安防监控升级",
    "信创替代项目",
    "私有云平台建设",
    "数据治理平台",
]
LOST_REASONS = [
    "价格高于竞争对手",
    "客户选择了竞争对手",
    "项目预算取消",
    "需求变更，项目暂停",
    "决策延期至明年",
    "技术方案未通过评审",
    "客户内部调整",
]
TOPICS = [
    "了解年度信息化预算",
    "介绍新一代产品方案",
    "确认项目需求范围",
    "讨论报价细节",
    "约定技术交流时间",
    "跟进合同审批进度",
    "沟通试用反馈",
    "确认招标时间节点",
    "回访售后满意度",
    "演示系统功能",
    "沟通付款安排",
    "了解竞争对手情况",
]
REACTIONS = [
    "客户反馈积极，希望下周提供详细方案。",
    "对方表示预算还在审批中。",
    "客户关注交付周期和售后服务。",
    "需要与技术部门进一步确认。",
    "客户对价格比较敏感，要求再给优惠。",
    "决策人出差，下月再约。",
    "已发送资料，等待回复。",
    "客户认可方案，准备走采购流程。",
    "对方提出了新的需求，需要评估。",
]
NEXT_STEPS = [
    "发送方案书",
    "安排技术交流",
    "提交报价",
    "约高层拜访",
    "准备投标文件",
    "跟进合同盖章",
    "安排产品演示",
    "发送案例资料",
    "确认样机测试",
]
KIND_VERBS = {
    FollowUpType.VISIT: "上门拜访，",
    FollowUpType.CALL: "电话沟通，",
    FollowUpType.MEETING: "组织会议，",
    FollowUpType.EMAIL: "邮件往来，",
    FollowUpType.WECHAT: "微信沟通，",
    FollowUpType.OTHER: "",
}

# Famous groups, so that searching 华为 / huawei / hwjs or 中国移动 finds something in every demo.
# (name, short name, industry, province, city, district, [children as the same tuples with their own children])
FAMOUS = [
    (
        "华为投资控股有限公司",
        "华为",
        Industry.HIGH_TECH,
        "广东省",
        "深圳市",
        "龙岗区",
        [
            (
                "深圳市华为技术有限公司",
                "华为技术",
                Industry.HIGH_TECH,
                "广东省",
                "深圳市",
                "龙岗区",
                [
                    ("华为终端有限公司", "华为终端", Industry.HIGH_TECH, "广东省", "东莞市", "", []),
                    ("华为数字能源技术有限公司", "华为数字能源", Industry.ENERGY, "广东省", "深圳市", "福田区", []),
                ],
            ),
            ("华为云计算技术有限公司", "华为云", Industry.SOFTWARE, "贵州省", "贵阳市", "", []),
        ],
    ),
    (
        "中国移动通信集团有限公司",
        "中国移动",
        Industry.TELECOM,
        "北京市",
        "市辖区",
        "西城区",
        [
            (
                "中国移动通信集团广东有限公司",
                "广东移动",
                Industry.TELECOM,
                "广东省",
                "广州市",
                "天河区",
                [
                    (
                        "中国移动通信集团广东有限公司深圳分公司",
                        "深圳移动",
                        Industry.TELECOM,
                        "广东省",
                        "深圳市",
                        "福田区",
                        [],
                    ),
                    (
                        "中国移动通信集团广东有限公司广州分公司",
                        "广州移动",
                        Industry.TELECOM,
                        "广东省",
                        "广州市",
                        "越秀区",
                        [],
                    ),
                ],
            ),
            (
                "中国移动通信集团江苏有限公司",
                "江苏移动",
                Industry.TELECOM,
                "江苏省",
                "南京市",
                "",
                [
                    (
                        "中国移动通信集团江苏有限公司苏州分公司",
                        "苏州移动",
                        Industry.TELECOM,
                        "江苏省",
                        "苏州市",
                        "",
                        [],
                    ),
                ],
            ),
        ],
    ),
    (
        "中国石油化工集团有限公司",
        "中国石化",
        Industry.ENERGY,
        "北京市",
        "市辖区",
        "朝阳区",
        [
            (
                "中国石油化工股份有限公司",
                "中国石化股份",
                Industry.ENERGY,
                "北京市",
                "市辖区",
                "朝阳区",
                [
                    ("中国石化销售股份有限公司广东石油分公司", "广东石油", Industry.ENERGY, "广东省", "广州市", "", []),
                    (
                        "中国石油化工股份有限公司镇海炼化分公司",
                        "镇海炼化",
                        Industry.ENERGY,
                        "浙江省",
                        "宁波市",
                        "镇海区",
                        [],
                    ),
                ],
            ),
        ],
    ),
    (
        "国家电网有限公司",
        "国家电网",
        Industry.ENERGY,
        "北京市",
        "市辖区",
        "西城区",
        [
            (
                "国网江苏省电力有限公司",
                "江苏电力",
                Industry.ENERGY,
                "江苏省",
                "南京市",
                "",
                [
                    ("国网江苏省电力有限公司南京供电分公司", "南京供电", Industry.ENERGY, "江苏省", "南京市", "", []),
                ],
            ),
            ("国网上海市电力公司", "上海电力", Industry.ENERGY, "上海市", "市辖区", "浦东新区", []),
        ],
    ),
    (
        "广州汽车集团股份有限公司",
        "广汽集团",
        Industry.MANUFACTURING,
        "广东省",
        "广州市",
        "天河区",
        [
            ("广汽埃安新能源汽车股份有限公司", "广汽埃安", Industry.MANUFACTURING, "广东省", "广州市", "番禺区", []),
            ("广汽本田汽车有限公司", "广汽本田", Industry.MANUFACTURING, "广东省", "广州市", "黄埔区", []),
        ],
    ),
    (
        "紫光集团有限公司",
        "紫光集团",
        Industry.HIGH_TECH,
        "北京市",
        "市辖区",
        "海淀区",
        [
            ("紫光国芯微电子股份有限公司", "紫光国微", Industry.HIGH_TECH, "河北省", "唐山市", "", []),
            ("紫光股份有限公司", "紫光股份", Industry.HIGH_TECH, "北京市", "市辖区", "海淀区", []),
        ],
    ),
    (
        "中国工商银行股份有限公司",
        "工商银行",
        Industry.FINANCE,
        "北京市",
        "市辖区",
        "西城区",
        [
            (
                "中国工商银行股份有限公司上海市分行",
                "工行上海分行",
                Industry.FINANCE,
                "上海市",
                "市辖区",
                "浦东新区",
                [],
            ),
            ("中国工商银行股份有限公司四川省分行", "工行四川分行", Industry.FINANCE, "四川省", "成都市", "", []),
        ],
    ),
    ("比亚迪股份有限公司", "比亚迪", Industry.MANUFACTURING, "广东省", "深圳市", "坪山区", []),
    ("中兴通讯股份有限公司", "中兴通讯", Industry.TELECOM, "广东省", "深圳市", "南山区", []),
    ("腾讯科技（深圳）有限公司", "腾讯", Industry.SOFTWARE, "广东省", "深圳市", "南山区", []),
    ("美的集团股份有限公司", "美的", Industry.MANUFACTURING, "广东省", "佛山市", "顺德区", []),
    ("珠海格力电器股份有限公司", "格力电器", Industry.MANUFACTURING, "广东省", "珠海市", "香洲区", []),
    ("宁德时代新能源科技股份有限公司", "宁德时代", Industry.ENERGY, "福建省", "宁德市", "蕉城区", []),
    ("京东方科技集团股份有限公司", "京东方", Industry.HIGH_TECH, "北京市", "市辖区", "朝阳区", []),
    ("杭州海康威视数字技术股份有限公司", "海康威视", Industry.HIGH_TECH, "浙江省", "杭州市", "滨江区", []),
    ("顺丰速运有限公司", "顺丰", Industry.TRANSPORT, "广东省", "深圳市", "南山区", []),
    ("中国铁路上海局集团有限公司", "上海铁路局", Industry.TRANSPORT, "上海市", "市辖区", "静安区", []),
    ("上海汽车集团股份有限公司", "上汽集团", Industry.MANUFACTURING, "上海市", "市辖区", "静安区", []),
    ("四川大学华西医院", "华西医院", Industry.HEALTHCARE, "四川省", "成都市", "武侯区", []),
    ("浙江大学", "浙大", Industry.EDUCATION, "浙江省", "杭州市", "西湖区", []),
    ("深圳市政务服务和数据管理局", "深圳政数局", Industry.GOVERNMENT, "广东省", "深圳市", "福田区", []),
]


def _short_place(name: str) -> str:
    """深圳市 -> 深圳, 广西壮族自治区 -> 广西: the form used inside company names."""
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "省", "市"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def _org_code(n: int) -> str:
    """A GB 11714 organisation code (8 digits + check character) that is unique per n."""
    body = f"{(n * 7_919 + 13_579_246) % 100_000_000:08d}"  # 7919 is prime to 10**8: a bijection
    check = 11 - sum(int(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return body + ("X" if check == 10 else "0" if check == 11 else str(check))


def credit_code(n: int, kind: str, district: str) -> str:
    """A unified social credit code with a correct check character (GB 32100-2015)."""
    first17 = kind + (district or "110101").ljust(6, "0")[:6] + _org_code(n)
    return first17 + uscc_check_char(first17)


@dataclass
class AccountInfo:
    """What later phases need of an account, without keeping a million model instances alive."""

    id: int
    owner_id: int
    short: str
    province: str
    city: str
    district: str
    created: float
    grade: str
    contacts: list[int] = field(default_factory=list)


class Timer:
    def __init__(self, out):
        self.out = out
        self.started = time.perf_counter()

    def step(self, label: str, count: int | None, t0: float) -> None:
        elapsed = time.perf_counter() - t0
        rate = f" ({count / elapsed:,.0f}/s)" if count and elapsed > 0.5 else ""
        counted = f"{count:>9,} " if count is not None else " " * 10
        self.out.write(
            f"  {label:<16}{counted}{elapsed:7.1f}s{rate}   [total {time.perf_counter() - self.started:.1f}s]"
        )
        if hasattr(self.out, "flush"):
            self.out.flush()


class DemoBuilder:
    """Generates the demo data; every random choice comes from one seeded Random."""

    def __init__(self, scale: int, seed: int, out):
        self.scale = scale
        self.seed = seed
        self.rng = Random(seed)
        self.faker = Faker("zh_CN")
        self.faker.seed_instance(seed)
        self.out = out
        self.timer = Timer(out)
        self.now = timezone.now()
        self.now_ts = self.now.timestamp()
        self.start_ts = self.now_ts - 730 * DAY
        self.regions = regions()
        self.used_names: set[str] = set()
        self.code_seq = 0
        self._prepare_pools()

    # --- pools ----------------------------------------------------------------------------------

    def _prepare_pools(self) -> None:
        rng, faker = self.rng, self.faker
        # Person names repeat in real life; a pool of a few thousand keeps generation fast.
        names = sorted({faker.name() for _ in range(4000)})
        rng.shuffle(names)
        self.person_names = names
        self.person_pinyin = {n: "".join(lazy_pinyin(n, style=Style.NORMAL)) for n in names}
        brands = set(BRAND_WORDS)
        brands.update(faker.company_prefix() for _ in range(300))
        while len(brands) < 450:
            brands.add(rng.choice(BRAND_CHARS) + rng.choice(BRAND_CHARS))
        self.brands = sorted(b for b in brands if 2 <= len(b) <= 4 and "公司" not in b)
        rng.shuffle(self.brands)
        self.industries = list(INDUSTRY_WEIGHTS)
        self.industry_weights = list(INDUSTRY_WEIGHTS.values())
        self.titles = [t for t, _ in TITLES]
        self.title_weights = [w for _, w in TITLES]
        # Provinces: covered ones by weight, the rest of the country shares a small remainder.
        provinces = [code for code, _ in self.regions.provinces()]
        self.province_choices = provinces
        self.province_weights = [PROVINCE_WEIGHTS.get(code, 0.6) for code in provinces]
        self.cities = {p: [c for c, _ in self.regions.children[p]] for p in provinces}

    def person(self) -> str:
        return self.rng.choice(self.person_names)

    def mobile(self) -> str:
        return f"+86{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randrange(100_000_000):08d}"

    def landline(self, province: str, city: str) -> str:
        area = AREA_CODES.get(city) or AREA_CODES.get(province)
        if not area:
            return ""
        digits = 8 if len(area) <= 3 else 7
        return f"+86{area}{self.rng.randrange(2 * 10 ** (digits - 1), 10**digits)}"

    def place(self) -> tuple[str, str, str]:
        rng = self.rng
        province = rng.choices(self.province_choices, self.province_weights)[0]
        cities = self.cities[province]
        city = cities[0] if rng.random() < 0.45 else rng.choice(cities)
        districts = self.regions.children[city]
        district = rng.choice(districts)[0] if districts else ""
        return province, city, district

    def place_name(self, province: str, city: str) -> str:
        city_name = self.regions.names.get(city, "")
        if not city_name or city_name in ("市辖区", "县") or city_name.endswith("行政区划"):
            return self.regions.names[province]
        return city_name

    def address(self, district: str) -> str:
        rng = self.rng
        name = self.regions.names.get(district, "")
        return f"{name}{rng.choice(ROADS)}{rng.randint(1, 999)}号" + (
            f"{rng.randint(1, 30)}楼" if rng.random() < 0.5 else ""
        )

    def company_name(self, industry: str, province: str, city: str, *, group: bool = False, brand: str | None = None):
        """(name, short name, brand) for a company or public body located in the given place."""
        rng = self.rng
        place = self.place_name(province, city)
        if not group and brand is None:
            roll = rng.random()
            if industry == Industry.GOVERNMENT and roll < 0.7:
                body = rng.choice(GOV_BODIES)
                return f"{place}{body}", f"{_short_place(place)}{body[:2]}", ""
            if industry == Industry.HEALTHCARE and roll < 0.35:
                return f"{place}{rng.choice(HOSPITALS)}", "", ""
            if industry == Industry.EDUCATION and roll < 0.5:
                return f"{_short_place(place)}{rng.choice(SCHOOLS)}", "", ""
        brand = brand or rng.choice(self.brands)
        word = rng.choice(INDUSTRY_WORDS[industry])
        short = _short_place(place)
        style = rng.random()
        if group:
            suffix = "集团有限公司" if rng.random() < 0.7 else "集团股份有限公司"
            prefix = short if style < 0.4 else ""
            return f"{prefix}{brand}{suffix}", brand, brand
        suffix = rng.choice(SUFFIXES)
        if style < 0.4:
            name = f"{place}{brand}{word}{suffix}"
        elif style < 0.65:
            name = f"{short}{brand}{word}{suffix}"
        elif style < 0.75:
            name = f"{_short_place(self.regions.names[province])}{brand}{word}{suffix}"
        elif style < 0.85:
            name = f"{brand}{word}（{short}）{suffix}"
        else:
            name = f"{brand}{word}{suffix}"
        return name, brand + (word if len(word) <= 2 else ""), brand

    def unique_name(self, make) -> tuple[str, str, str]:
        for _ in range(20):
            result = make()
            if result[0] not in self.used_names:
                self.used_names.add(result[0])
                return result
        name, short, brand = result
        self.code_seq += 1
        name = f"{name}（{self.code_seq}）"
        self.used_names.add(name)
        return name, short, brand

    def next_code(self, kind: str, district: str) -> str:
        self.code_seq += 1
        return credit_code(self.code_seq, kind, district)

    def moment(self, after: float = 0.0, before: float | None = None):
        """A random aware datetime between `after` (default two years ago) and `before` (default now)."""
        low = max(after, self.start_ts)
        high = before if before is not None else self.now_ts
        ts = low + self.rng.random() * max(high - low, 0)
        return self.now - timedelta(seconds=self.now_ts - ts), ts

    def log(self, label, count, t0):
        self.timer.step(label, count, t0)

    # --- the phases -----------------------------------------------------------------------------

    def run(self) -> dict[str, int]:
        self.out.write(f"Building demo data (scale {self.scale:,}, seed {self.seed})")
        t0 = time.perf_counter()
        with transaction.atomic():
            self.build_org()
            self.tags = [Tag.objects.get_or_create(name=name)[0] for name in TAGS]
        self.log("org & users", len(self.users), t0)
        counts = {"users": len(self.users)}
        counts["accounts"] = self.build_accounts()
        counts["contacts"] = self.build_contacts()
        counts["leads"] = self.build_leads()
        counts["opportunities"] = self.build_opportunities()
        counts["followups"] = self.build_followups()
        backfill_keys()  # duplicate-check keys: the bulk inserts skipped the signals that fill them
        return counts

    def build_org(self) -> None:
        roles = {r.code: r for r in Role.objects.all()}
        missing = {"admin", "sales_director", "sales_manager", "sales_rep", "hr_integration"} - set(roles)
        if missing:
            raise CommandError(f"Roles missing (run migrate first): {', '.join(sorted(missing))}")
        password = make_password(DEMO_PASSWORD)  # hashing is slow: once, shared by every demo user
        rng = self.rng
        self.users: list[User] = []
        self.reps: list[User] = []
        self.managers: list[User] = []
        self.dept_users: dict[int, list[User]] = {}  # market department id -> its sales staff
        self.province_dept: dict[str, int] = {}
        used_usernames: set[str] = set()
        seq = iter(range(1, 1000))

        def department(name, parent=None, order=0):
            d = Department(name=name, parent=parent, code=f"D{next(seq):03d}", sort_order=order)
            d.save()
            d.path = d.compute_path()
            d.depth = d.path.count("/") - 2
            d.save(update_fields=["path", "depth"])
            return d

        def person_username(name: str) -> str:
            base = self.person_pinyin.get(name) or "".join(lazy_pinyin(name, style=Style.NORMAL))
            base = "".join(c for c in base.lower() if c.isascii() and c.isalnum()) or "user"
            username, n = base, 1
            while username in used_usernames:
                n += 1
                username = f"{base}{n}"
            return username

        def user(username, name, dept, role, title, manager=None, **extra):
            used_usernames.add(username)
            u = User(
                username=username,
                name=name,
                email=f"{username}@{DEMO_EMAIL_DOMAIN}",
                password=password,
                department=dept,
                manager=manager,
                title=title,
                mobile=self.mobile(),
                employee_no=f"T{len(self.users) + 1:04d}",
                date_joined=self.moment()[0],
                **extra,
            )
            u.save()
            u.roles.add(roles[role])
            self.users.append(u)
            return u

        root = department("集团总部")
        vp = user("vp", self.person(), root, "sales_director", "销售副总裁")
        it = department("信息技术部", root, 90)
        hr = department("人力资源部", root, 91)
        self.admin = user("admin", self.person(), it, "admin", "系统管理员", vp, is_staff=True)
        user("hr_sync", "HR 同步", hr, "hr_integration", "系统集成账号", self.admin)
        for d, head in ((root, vp), (it, self.admin)):
            d.head = head
            d.save(update_fields=["head"])
        for order, (sub_name, key, markets) in enumerate(SUBSIDIARIES, start=1):
            sub = department(sub_name, root, order * 10)
            director = user(f"director_{key}", self.person(), sub, "sales_director", f"{sub_name[:2]}销售总监", vp)
            sub.head = director
            sub.save(update_fields=["head"])
            for m_order, (market_name, provinces, team_name) in enumerate(markets, start=1):
                market = department(market_name, sub, m_order * 10)
                name = self.person()
                manager = user(person_username(name), name, market, "sales_manager", "销售经理", director)
                market.head = manager
                market.save(update_fields=["head"])
                staff = [manager]
                self.managers.append(manager)
                rep_depts = [market, market]
                if team_name:
                    team = department(team_name, market, 10)
                    rep_depts[1] = team
                for rep_dept in rep_depts:
                    name = self.person()
                    title = rng.choice(["销售代表", "客户经理", "高级客户经理"])
                    rep = user(person_username(name), name, rep_dept, "sales_rep", title, manager)
                    staff.append(rep)
                    self.reps.append(rep)
                    if rep_dept is not market:  # the key-account team is led by its senior rep
                        rep_dept.head = rep
                        rep_dept.save(update_fields=["head"])
                self.dept_users[market.pk] = staff
                for p in provinces:
                    self.province_dept[p] = market.pk
        self.market_ids = list(self.dept_users)
        self.sales_ids = [u.pk for u in self.reps + self.managers]
        self.sales_weights = [3] * len(self.reps) + [1] * len(self.managers)
        self.directors = [u for u in self.users if u.username.startswith("director_")]

    def owner_for(self, province: str) -> int:
        """A salesperson of the market department that covers the province (anyone when none does)."""
        rng = self.rng
        dept = self.province_dept.get(province) or rng.choice(self.market_ids)
        staff = self.dept_users[dept]
        return staff[0].pk if rng.random() < 0.2 else rng.choice(staff[1:]).pk

    def any_sales(self) -> int:
        return self.rng.choices(self.sales_ids, self.sales_weights)[0]

    # --- accounts -------------------------------------------------------------------------------

    def _account(self, name, short, industry, province, city, district, *, grade=None, kind="91", famous=False):
        rng = self.rng
        created, created_ts = self.moment()
        owner_id = self.owner_for(province)
        status = rng.choices(
            [AccountStatus.POTENTIAL, AccountStatus.CUSTOMER, AccountStatus.DORMANT, AccountStatus.LOST],
            [45, 40, 10, 5],
        )[0]
        if famous:
            status = AccountStatus.CUSTOMER
        a = Account(
            name=name,
            short_name=short,
            industry=industry,
            credit_code=self.next_code(kind, district or city + "00") if famous or rng.random() < 0.75 else "",
            grade=grade or rng.choices("ABCD", [8, 22, 45, 25])[0],
            account_type=rng.choices(
                [
                    AccountType.END_CUSTOMER,
                    AccountType.PARTNER,
                    AccountType.SUPPLIER,
                    AccountType.DESIGN_INSTITUTE,
                    AccountType.COMPETITOR,
                ],
                [80, 10, 4, 3, 3],
            )[0],
            province_code=province,
            city_code=city,
            district_code=district,
            address=self.address(district) if district and rng.random() < 0.8 else "",
            phone=self.landline(province, city) if rng.random() < 0.6 else "",
            status=status,
            owner_id=owner_id,
            created_by_id=owner_id,
            created_at=created,
            updated_at=created + timedelta(days=rng.random() * 30) if rng.random() < 0.5 else created,
        )
        a._created_ts = created_ts
        return a

    def _famous_family(self, spec, level, out, parent_index=None):
        name, short, industry, prov_name, city_name, district_name, children = spec
        province = next(c for c, n in self.regions.provinces() if n == prov_name)
        city = next(c for c, n in self.regions.children[province] if n == city_name)
        district = next((c for c, n in self.regions.children[city] if n == district_name), "")
        if not district:
            district = self.regions.children[city][0][0]
        kind = (
            "11"
            if industry == Industry.GOVERNMENT
            else "12"
            if industry in (Industry.HEALTHCARE, Industry.EDUCATION)
            else "91"
        )
        self.used_names.add(name)
        a = self._account(name, short, industry, province, city, district, grade="A", kind=kind, famous=True)
        out.append((level, parent_index, a))
        me = len(out) - 1
        for child in children:
            self._famous_family(child, level + 1, out, me)

    def _generated_family(self, out) -> None:
        """One account, or a group with subsidiaries and branch offices (2-3 levels below the group)."""
        rng = self.rng
        industry = rng.choices(self.industries, self.industry_weights)[0]
        province, city, district = self.place()
        if rng.random() >= 0.06 or industry in (Industry.GOVERNMENT, Industry.EDUCATION):
            name, short, _brand = self.unique_name(lambda: self.company_name(industry, province, city))
            # Registration kind: 91 company, 11 government body, 12 public institution (hospital, school)
            kind = "91" if name.endswith("公司") else "11" if industry == Industry.GOVERNMENT else "12"
            out.append((0, None, self._account(name, short, industry, province, city, district, kind=kind)))
            return
        name, short, brand = self.unique_name(lambda: self.company_name(industry, province, city, group=True))
        out.append((0, None, self._account(name, short, industry, province, city, district, grade=rng.choice("AB"))))
        group_index = len(out) - 1
        for _ in range(rng.randint(1, 4)):
            p, c, d = self.place()
            sub_name, sub_short, _brand = self.unique_name(
                lambda p=p, c=c: self.company_name(industry, p, c, brand=brand)  # noqa: B023
            )
            out.append((1, group_index, self._account(sub_name, sub_short, industry, p, c, d)))
            sub_index = len(out) - 1
            if rng.random() < 0.35:
                for _ in range(rng.randint(1, 3)):
                    cities = self.cities[p]
                    c2 = rng.choice(cities)
                    d2 = rng.choice(self.regions.children[c2])[0]
                    branch = f"{sub_name}{_short_place(self.place_name(p, c2))}分公司"
                    if branch in self.used_names:
                        continue
                    self.used_names.add(branch)
                    out.append((2, sub_index, self._account(branch, "", industry, p, c2, d2)))

    def build_accounts(self) -> int:
        """Accounts in families (groups first, then their subsidiaries), flushed chunk by chunk."""
        t0 = time.perf_counter()
        target = max(50, self.scale // 5)
        self.accounts: list[AccountInfo] = []
        self.key_accounts: list[int] = []  # indexes into self.accounts of the famous groups' members
        pending: list[tuple[int, int | None, Account]] = []
        for spec in FAMOUS:
            self._famous_family(spec, 0, pending)
        famous_count = len(pending)
        total = 0
        while total < target:
            family: list = []
            self._generated_family(family)
            room = target - total - len(pending)
            if len(family) > room:
                family = family[: max(room, 1)]
            offset = len(pending)
            pending.extend((lvl, None if p is None else p + offset, a) for lvl, p, a in family)
            if len(pending) >= CHUNK or total + len(pending) >= target:
                self._flush_accounts(pending)
                if not self.key_accounts:
                    self.key_accounts = list(range(famous_count))
                total += len(pending)
                pending = []
        self.log("accounts", total, t0)
        return total

    def _flush_accounts(self, pending) -> None:
        rng = self.rng
        with transaction.atomic():
            for level in range(0, 4):
                objs = [a for lvl, _p, a in pending if lvl == level]
                if not objs:
                    continue
                if level:
                    for lvl, p, a in pending:
                        if lvl == level:
                            a.parent_id = pending[p][2].pk
                Account.objects.bulk_create(objs, batch_size=BATCH)
            tagged = []
            through = Account.tags.through
            for _lvl, _p, a in pending:
                if a.grade == "A" or rng.random() < 0.25:
                    for tag in rng.sample(self.tags, rng.randint(1, 2)):
                        tagged.append(through(account_id=a.pk, tag_id=tag.pk))
            through.objects.bulk_create(tagged, batch_size=BATCH)
            bulk_index(a for _lvl, _p, a in pending)
        for _lvl, _p, a in pending:
            self.accounts.append(
                AccountInfo(
                    a.pk,
                    a.owner_id,
                    a.short_name or a.name,
                    a.province_code,
                    a.city_code,
                    a.district_code,
                    a._created_ts,
                    a.grade,
                )
            )

    # --- contacts -------------------------------------------------------------------------------

    def build_contacts(self) -> int:
        t0 = time.perf_counter()
        rng = self.rng
        total = 0
        chunk: list[tuple[AccountInfo, Contact]] = []
        key = set(self.key_accounts)
        for index, info in enumerate(self.accounts):
            n = rng.randint(3, 5) if index in key else rng.choices([0, 1, 2, 3, 4], [8, 25, 35, 20, 12])[0]
            for _ in range(n):
                chunk.append((info, self._contact(info)))
            if len(chunk) >= CHUNK:
                total += self._flush_contacts(chunk)
                chunk = []
        if chunk:
            total += self._flush_contacts(chunk)
        self.log("contacts", total, t0)
        return total

    def _contact(self, info: AccountInfo) -> Contact:
        rng = self.rng
        name = self.person()
        created, _ts = self.moment(after=info.created)
        py = self.person_pinyin[name]
        return Contact(
            account_id=info.id,
            name=name,
            title=rng.choices(self.titles, self.title_weights)[0],
            department=rng.choice(CONTACT_DEPARTMENTS) if rng.random() < 0.7 else "",
            mobile=self.mobile() if rng.random() < 0.9 else "",
            phone=self.landline(info.province, info.city) if rng.random() < 0.3 else "",
            email=f"{py}{rng.randint(1, 99)}@{rng.choice(MAIL_DOMAINS)}" if rng.random() < 0.6 else "",
            wechat=f"wxid_{py}{rng.randint(10, 9999)}" if rng.random() < 0.3 else "",
            buying_role=rng.choices(list(BuyingRole.values) + [""], [12, 18, 20, 18, 12, 8, 12])[0],
            attitude=rng.choices([Attitude.SUPPORTER, Attitude.NEUTRAL, Attitude.OPPONENT], [30, 60, 10])[0],
            owner_id=info.owner_id,
            created_by_id=info.owner_id,
            created_at=created,
            updated_at=created,
        )

    def _flush_contacts(self, chunk) -> int:
        with transaction.atomic():
            Contact.objects.bulk_create([c for _i, c in chunk], batch_size=BATCH)
            bulk_index(c for _i, c in chunk)
        for info, c in chunk:
            info.contacts.append(c.pk)
        return len(chunk)

    # --- leads ----------------------------------------------------------------------------------

    def build_leads(self) -> int:
        """`scale` leads, oldest first so ids grow with time as they would in production."""
        t0 = time.perf_counter()
        rng = self.rng
        n = self.scale
        self.lead_ids = array("q")
        self.lead_owner = array("q")  # 0 = public pool
        self.lead_ts = array("d")
        sources = list(LeadSource.values)
        source_weights = [14, 12, 10, 6, 10, 10, 8, 8, 10, 6, 6]
        statuses = [
            LeadStatus.NEW,
            LeadStatus.CONTACTED,
            LeadStatus.QUALIFIED,
            LeadStatus.CONVERTED,
            LeadStatus.INVALID,
        ]
        status_weights = [45, 30, 10, 7, 8]
        reasons = list(InvalidReason.values)
        span = self.now_ts - self.start_ts
        chunk: list[Lead] = []
        admin_id = self.admin.pk
        companies: list[tuple[str, str, str, str, str]] = []
        pool_size = max(100, min(LEAD_COMPANIES, n * 3 // 5))
        for i in range(n):
            ts = min(self.start_ts + span * (i + rng.random()) / n, self.now_ts)
            created = self.now - timedelta(seconds=self.now_ts - ts)
            # The same company sends leads again (another person, another campaign): drawing from a pool
            # makes that happen and lets the search tokenizer's pinyin cache hit.
            if len(companies) < pool_size and (not companies or rng.random() < 0.5):
                industry = rng.choices(self.industries, self.industry_weights)[0]
                province, city, district = self.place()
                company = self.company_name(industry, province, city)[0]
                companies.append((company, industry, province, city, district))
            else:
                company, industry, province, city, district = rng.choice(companies)
            if rng.random() < 0.4:  # the region is often left empty on a lead
                province, city, district = "", "", ""
            pool = rng.random() < 0.1
            status = rng.choices(statuses, status_weights)[0]
            if pool and status not in (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.INVALID):
                status = LeadStatus.NEW
            owner_id = (
                None if pool else (self.owner_for(province) if province and rng.random() < 0.7 else self.any_sales())
            )
            name = self.person() if rng.random() < 0.92 else ""
            source = rng.choices(sources, source_weights)[0]
            lead = Lead(
                company=company,
                contact_name=name,
                title=rng.choices(self.titles, self.title_weights)[0] if name and rng.random() < 0.6 else "",
                phone=self.mobile() if rng.random() < 0.85 else "",
                email=f"{self.person_pinyin[name]}@{rng.choice(MAIL_DOMAINS)}" if name and rng.random() < 0.3 else "",
                industry=industry if rng.random() < 0.7 else "",
                province_code=province,
                city_code=city,
                district_code=district,
                address=self.address(district) if district and rng.random() < 0.3 else "",
                source=source,
                status=status,
                invalid_reason=rng.choice(reasons) if status == LeadStatus.INVALID else "",
                owner_id=owner_id,
                created_by_id=owner_id or admin_id,
                created_at=created,
                updated_at=created
                if status == LeadStatus.NEW
                else min(created + timedelta(days=rng.random() * 20), self.now),
            )
            lead._ts = ts
            chunk.append(lead)
            if len(chunk) >= CHUNK:
                self._flush_leads(chunk)
                chunk = []
                if (i + 1) % 100_000 == 0:
                    self.log("  leads …", i + 1, t0)
        if chunk:
            self._flush_leads(chunk)
        self.log("leads", n, t0)
        return n

    def _flush_leads(self, chunk: list[Lead]) -> None:
        with transaction.atomic():
            Lead.objects.bulk_create(chunk, batch_size=BATCH)
            bulk_index(chunk)
        for lead in chunk:
            self.lead_ids.append(lead.pk)
            self.lead_owner.append(lead.owner_id or 0)
            self.lead_ts.append(lead._ts)

    # --- opportunities --------------------------------------------------------------------------

    def build_opportunities(self) -> int:
        t0 = time.perf_counter()
        rng = self.rng
        stages = list(Stage.objects.filter(is_active=True).order_by("sort_order"))
        if not stages:
            raise CommandError("No opportunity stages (run migrate first).")
        weights = [
            {OpportunityStatus.OPEN: 16, OpportunityStatus.WON: 20, OpportunityStatus.LOST: 15}[s.status]
            for s in stages
        ]
        target = max(30, self.scale // 10)
        self.opportunities: list[tuple[int, int, int, float]] = []  # id, account index, owner id, created ts
        a_grade = [i for i, a in enumerate(self.accounts) if a.grade in "AB"]
        picks = [i for i in self.key_accounts for _ in range(rng.randint(2, 4))]
        chunk: list[tuple[int, Opportunity]] = []
        total = 0
        while total + len(chunk) < target:
            if picks:
                index = picks.pop()
            elif a_grade and rng.random() < 0.4:
                index = rng.choice(a_grade)
            else:
                index = rng.randrange(len(self.accounts))
            chunk.append((index, self._opportunity(self.accounts[index], rng.choices(stages, weights)[0])))
            if len(chunk) >= CHUNK:
                total += self._flush_opportunities(chunk)
                chunk = []
        if chunk:
            total += self._flush_opportunities(chunk)
        self.log("opportunities", total, t0)
        return total

    def _opportunity(self, info: AccountInfo, stage: Stage) -> Opportunity:
        rng = self.rng
        created, created_ts = self.moment(after=max(info.created, self.now_ts - 540 * DAY))
        closed_at = None
        if stage.status == OpportunityStatus.OPEN:
            close = created.date() + timedelta(days=rng.randint(30, 270))
            if close < self.now.date() and rng.random() < 0.7:  # most open deals still look ahead
                close = self.now.date() + timedelta(days=rng.randint(7, 180))
        else:
            closed_at, _ts = (
                self.moment(after=created_ts + 20 * DAY) if created_ts + 20 * DAY < self.now_ts else (self.now, 0)
            )
            close = closed_at.date()
        owner_id = info.owner_id if rng.random() < 0.85 else self.any_sales()
        year = created.year if rng.random() < 0.4 else None
        name = f"{info.short}{year}年{rng.choice(PROJECTS)}" if year else f"{info.short}{rng.choice(PROJECTS)}"
        return Opportunity(
            account_id=info.id,
            contact_id=rng.choice(info.contacts) if info.contacts and rng.random() < 0.8 else None,
            name=name[:200],
            amount=Decimal(rng.randint(50, 5000) * 1000),
            expected_close_date=close,
            stage=stage,
            status=stage.status,
            closed_at=closed_at,
            lost_reason=rng.choice(LOST_REASONS) if stage.status == OpportunityStatus.LOST else "",
            owner_id=owner_id,
            created_by_id=owner_id,
            created_at=created,
            updated_at=closed_at or min(created + timedelta(days=rng.random() * 60), self.now),
        )

    def _flush_opportunities(self, chunk) -> int:
        with transaction.atomic():
            Opportunity.objects.bulk_create([o for _i, o in chunk], batch_size=BATCH)
            bulk_index(o for _i, o in chunk)
        for index, o in chunk:
            self.opportunities.append((o.pk, index, o.owner_id, o.created_at.timestamp()))
        return len(chunk)

    # --- follow-ups -----------------------------------------------------------------------------

    def build_followups(self) -> int:
        t0 = time.perf_counter()
        rng = self.rng
        target = max(100, self.scale // 5)
        kinds = [
            FollowUpType.VISIT,
            FollowUpType.CALL,
            FollowUpType.MEETING,
            FollowUpType.EMAIL,
            FollowUpType.WECHAT,
            FollowUpType.OTHER,
        ]
        kind_weights = [25, 35, 10, 10, 18, 2]
        chunk: list[FollowUp] = []
        total = 0
        key = self.key_accounts
        famous_quota = min(len(key) * 4, target // 4)
        for i in range(target):
            roll = rng.random()
            account_id = contact_id = lead_id = opportunity_id = None
            if i < famous_quota:  # the famous accounts get a visible timeline
                info = self.accounts[key[i % len(key)]]
                account_id, owner_id, after = info.id, info.owner_id, info.created
                if info.contacts and rng.random() < 0.5:
                    contact_id = rng.choice(info.contacts)
            elif roll < 0.3 and self.lead_ids:
                j = rng.randrange(len(self.lead_ids))
                lead_id, owner_id, after = self.lead_ids[j], self.lead_owner[j] or self.any_sales(), self.lead_ts[j]
            elif roll < 0.5 and self.opportunities:
                opportunity_id, index, owner_id, after = rng.choice(self.opportunities)
                account_id = self.accounts[index].id
            else:
                info = rng.choice(self.accounts)
                account_id, owner_id, after = info.id, info.owner_id, info.created
                if info.contacts and rng.random() < 0.4:
                    contact_id = rng.choice(info.contacts)
            kind = rng.choices(kinds, kind_weights)[0]
            occurred, _ts = self.moment(after=after)
            topic = rng.choice(TOPICS)
            content = f"{KIND_VERBS[kind]}{topic}。{rng.choice(REACTIONS)}"
            has_next = rng.random() < 0.35
            local_day = timezone.localdate(occurred)
            chunk.append(
                FollowUp(
                    kind=kind,
                    account_id=account_id,
                    contact_id=contact_id,
                    lead_id=lead_id,
                    opportunity_id=opportunity_id,
                    occurred_at=occurred,
                    content=content,
                    next_step=rng.choice(NEXT_STEPS) if has_next else "",
                    next_follow_up_on=local_day + timedelta(days=rng.randint(1, 30)) if has_next else None,
                    owner_id=owner_id,
                    created_by_id=owner_id,
                    created_at=occurred,
                    updated_at=occurred,
                )
            )
            if len(chunk) >= CHUNK:
                total += self._flush(FollowUp, chunk)
                chunk = []
        if chunk:
            total += self._flush(FollowUp, chunk)
        self.log("follow-ups", total, t0)
        return total

    def _flush(self, model, chunk) -> int:
        with transaction.atomic():
            model.objects.bulk_create(chunk, batch_size=BATCH)
        return len(chunk)


def lead_flow() -> dict[str, int]:
    """Derived fields the bulk inserts skipped, and two public pools with rules, so the demo shows the lead flow."""
    from django.db.models import F, OuterRef, Subquery

    from pools.models import Pool, RecyclingRule

    now = timezone.now()
    for model in (Lead, Account):
        model.all_objects.filter(owner__isnull=False, owner_since__isnull=True).update(owner_since=F("created_at"))
        newest = FollowUp.all_objects.filter(**{model.object_type: OuterRef("pk")}).order_by("-occurred_at")
        model.all_objects.update(last_followup_at=Subquery(newest.values("occurred_at")[:1]))
    admin = User.objects.get(username="admin")
    everyone = Department.objects.filter(parent__isnull=True)
    pools = {}
    for object_type, name, description in [
        ("lead", "线索公海", "没有负责人的线索；30 个工作日无跟进、90 天未转化的线索自动收回。"),
        ("account", "客户公海", "60 天无跟进、180 天未成交的客户自动收回。"),
    ]:
        pool = Pool.objects.create(
            name=name,
            object_type=object_type,
            description=description,
            daily_claim_limit=20,
            ownership_limit=2000,
            cooldown_days=7,
            reminder_days=3,
        )
        pool.member_departments.set(everyone)
        pool.admins.set([admin])
        pools[object_type] = pool
    RecyclingRule.objects.bulk_create(
        [
            RecyclingRule(
                pool=pools["lead"], name="30 个工作日无跟进", kind="no_followup", days=30, day_count="working"
            ),
            RecyclingRule(pool=pools["lead"], name="90 天未转化", kind="not_converted", days=90),
            RecyclingRule(pool=pools["account"], name="60 天无跟进", kind="no_followup", days=60),
            RecyclingRule(pool=pools["account"], name="180 天未成交", kind="not_won", days=180),
        ]
    )
    in_pool = Lead.all_objects.filter(owner__isnull=True).update(pool=pools["lead"], pool_entered_at=now)
    return {"pooled leads": in_pool}


class Command(BaseCommand):
    help = "Build a realistic demo company (org chart, users, accounts, contacts, leads, deals, follow-ups)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale", type=int, default=2000, help="Number of leads; accounts are scale/5, deals scale/10."
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed: the same seed builds the same company.")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the database already has accounts."
        )

    def handle(self, *args, scale, seed, if_empty, **options):
        if Account.all_objects.exists():
            if if_empty:
                self.stdout.write("Demo data: the database already has accounts, nothing to do.")
                return
            raise CommandError("The database already has accounts; the demo builds into an empty database.")
        taken = list(User.objects.filter(username__in=["admin", "vp", "hr_sync"]).values_list("username", flat=True))
        if taken:
            message = f"demo usernames already taken ({', '.join(taken)}); the demo needs an empty database."
            if if_empty:
                self.stdout.write(f"Demo data: {message} Nothing done.")
                return
            raise CommandError(message[0].upper() + message[1:])
        if scale < 1:
            raise CommandError("--scale must be at least 1.")
        started = time.perf_counter()
        counts = DemoBuilder(scale, seed, self.stdout).run()
        counts.update(lead_flow())
        summary = ", ".join(f"{v:,} {k}" for k, v in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data built in {time.perf_counter() - started:.1f}s: {summary}."))
        self.stdout.write(f"Log in as admin (or see `manage.py demo_logins`); demo password: {DEMO_PASSWORD}")
