"""Seed the classic evaluation rule of industrial sales, so a fresh install shows it:
(the product fits the industry OR the customer has a project OR its technology fits)
AND (credit is good OR its scale is sound) → potential customer;
plus (we reached the using department AND the decision maker AND the need is real) → qualified."""

from django.db import migrations

FACTS = [
    ("product_fits", "产品适合客户所在行业", "我们的产品在这个行业有成熟应用。"),
    ("has_project", "客户有项目", "客户有在建、立项或计划中的项目。"),
    ("tech_fits", "技术路线匹配", "客户的技术路线、标准与我们的方案一致。"),
    ("credit_good", "客户信用良好", "付款记录、工商与司法信息没有问题。"),
    ("scale_sound", "客户规模合适", "经营规模与预算足以支撑采购。"),
    ("reached_user_dept", "已接触使用部门", "已经和将要使用产品的部门建立联系。"),
    ("reached_decider", "已接触决策人", "已经接触到拍板的人。"),
    ("need_real", "需求真实", "需求已得到客户确认，不是随口一问。"),
]


def fact(code):
    return {"field": f"fact:{code}", "op": "is_true"}


LEVELS = [
    (
        "潜在客户",
        10,
        {
            "all": [
                {"any": [fact("product_fits"), fact("has_project"), fact("tech_fits")]},
                {"any": [fact("credit_good"), fact("scale_sound")]},
            ]
        },
        "",
    ),
    ("合格线索", 20, {"all": [fact("reached_user_dept"), fact("reached_decider"), fact("need_real")]}, "qualified"),
]


def seed(apps, schema_editor):
    Fact = apps.get_model("assignment", "QualificationFact")
    Level = apps.get_model("assignment", "QualificationLevel")
    if not Fact.objects.exists():
        for order, (code, label, help_text) in enumerate(FACTS, start=1):
            Fact.objects.create(code=code, label=label, help=help_text, order=order * 10)
    if not Level.objects.exists():
        for name, order, conditions, status in LEVELS:
            Level.objects.create(name=name, order=order, conditions=conditions, lead_status=status)


class Migration(migrations.Migration):
    dependencies = [("assignment", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
