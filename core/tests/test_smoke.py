import datetime

import pytest

from core.choices import Scope


@pytest.mark.django_db
def test_pages_and_api_answer(org, api_for, web_for):
    from opportunities.models import Stage

    rep = org.user("rep", org.sh, scope=Scope.OWN)
    api = api_for(rep)
    r = api.post("/accounts/", {"name": "深圳市华为技术有限公司", "grade": "A"})
    assert r.status_code == 201, r.json_body
    account_id = r.json_body["id"]
    r = api.post("/contacts/", {"account_id": account_id, "name": "张三", "mobile": "13800138000"})
    assert r.status_code == 201, r.json_body
    r = api.post(
        "/opportunities/",
        {
            "account_id": account_id,
            "name": "交换机项目",
            "amount": "120000",
            "expected_close_date": str(datetime.date.today()),
            "stage_id": Stage.objects.first().pk,
        },
    )
    assert r.status_code == 201, r.json_body
    r = api.post("/followups/", {"account_id": account_id, "content": "拜访了采购部", "kind": "visit"})
    assert r.status_code == 201, r.json_body
    r = api.post("/leads/", {"company": "广州汽车集团股份有限公司", "phone": "13912345678"})
    assert r.status_code == 201, r.json_body
    web = web_for(rep)
    for url in [
        "/",
        "/accounts/",
        f"/accounts/{account_id}/",
        "/accounts/new/",
        "/contacts/",
        "/leads/",
        "/opportunities/",
        "/followups/",
        "/search/?q=hwjs",
        "/recycle-bin/",
        "/me/tokens/",
        "/org/departments/",
        "/org/users/",
        "/history/",
        "/leads/?status=new&sort=-updated_at",
        "/accounts/?export=csv",
    ]:
        response = web.get(url)
        assert response.status_code in (200, 403), (url, response.status_code)
    r = api.get("/search/", {"q": "hwjs"})
    assert [h["title"] for h in r.json_body["results"]] == ["深圳市华为技术有限公司"]
    admin_web = web_for(org.admin)
    for url in [
        "/org/roles/",
        "/org/roles/new/",
        "/org/users/new/",
        "/org/departments/new/",
        f"/org/users/{rep.pk}/deactivate/",
        "/api/v1/docs",
        "/api/v1/openapi.json",
    ]:
        assert admin_web.get(url).status_code == 200, url
