from django.db import migrations

ALL_ACTIONS = ["view", "create", "edit", "delete", "export", "transfer"]
SALES_TYPES = ["account", "contact", "lead", "opportunity", "followup"]
ORG_TYPES = ["department", "user", "role"]

# code, name, description, {object_type: (actions, scope)}; scope 1 own, 2 department, 3 subtree, 4 all
ROLES = [
    ("admin", "系统管理员", "全部数据、全部操作。", {t: (ALL_ACTIONS, 4) for t in SALES_TYPES + ORG_TYPES}),
    (
        "sales_director", "销售总监", "本部门及下级部门的全部销售数据，可导出、可转移。",
        {**{t: (ALL_ACTIONS, 3) for t in SALES_TYPES}, "department": (["view"], 4), "user": (["view"], 4), "role": (["view"], 4)},
    ),
    (
        "sales_manager", "销售经理", "本部门的销售数据。",
        {**{t: (["view", "create", "edit", "transfer", "export"], 2) for t in SALES_TYPES},
         "department": (["view"], 4), "user": (["view"], 4)},
    ),
    (
        "sales_rep", "销售代表", "仅本人负责的数据。",
        {**{t: (["view", "create", "edit"], 1) for t in SALES_TYPES}, "department": (["view"], 4), "user": (["view"], 4)},
    ),
    (
        "hr_integration", "HR 同步", "供 HR 系统通过开放接口同步组织架构。",
        {"department": (["view", "create", "edit", "delete"], 4), "user": (["view", "create", "edit"], 4), "role": (["view"], 4)},
    ),
]


def add_roles(apps, schema_editor):
    Role = apps.get_model("org", "Role")
    RolePermission = apps.get_model("org", "RolePermission")
    for code, name, description, grants in ROLES:
        if Role.objects.filter(code=code).exists():
            continue
        role = Role.objects.create(code=code, name=name, description=description)
        for object_type, (actions, scope) in grants.items():
            RolePermission.objects.create(role=role, object_type=object_type, actions=actions, scope=scope)


class Migration(migrations.Migration):
    dependencies = [("org", "0001_initial")]
    operations = [migrations.RunPython(add_roles, migrations.RunPython.noop)]
