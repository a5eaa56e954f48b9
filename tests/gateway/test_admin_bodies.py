"""The admin API refuses a field it does not know, as every service does, rather than dropping it unseen."""

import httpx

from tests.support.gateway import Gateway


def names_only(response: httpx.Response, pointer: str) -> bool:
    return (
        response.status_code == 422
        and response.headers["content-type"].startswith("application/problem+json")
        and [error["pointer"] for error in response.json()["errors"]] == [pointer]
    )


async def test_an_organisation_with_an_unknown_field_is_refused_naming_it_and_not_created(gateway: Gateway) -> None:
    admin = await gateway.bearer()

    refused = await gateway.http.post(
        "/admin/organisations", json={"name": "Riverside Academy", "type": "school", "ofsted": "good"}, headers=admin
    )

    assert names_only(refused, "/ofsted"), refused.text
    assert "Riverside Academy" not in refused.text
    listed = (await gateway.http.get("/admin/organisations", headers=admin)).json()
    assert "Riverside Academy" not in [organisation["name"] for organisation in listed]


async def test_clients_and_staff_with_an_unknown_field_are_refused_naming_it(gateway: Gateway) -> None:
    admin = await gateway.bearer()
    school = await gateway.http.post("/admin/organisations", json={"name": "Brook", "type": "school"}, headers=admin)
    school_id = school.json()["id"]

    client = await gateway.http.post(
        "/admin/clients",
        json={"organisation_id": school_id, "name": "MIS", "scopes": ["assessments:read"], "secret": "mine"},
        headers=admin,
    )
    user = await gateway.http.post(
        "/admin/users",
        json={"organisation_id": school_id, "email": "a@brook.sch.uk", "name": "A", "roles": ["manager"],
              "password": "mine"},
        headers=admin,
    )  # fmt: skip

    assert names_only(client, "/secret"), client.text
    assert names_only(user, "/password"), user.text
