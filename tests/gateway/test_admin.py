"""Administrators manage organisations, their API clients and staff through the gateway."""

from sqlalchemy import select
from sqlmodel import col

from gateway.models import ApiClient, StaffUser
from tests.support.gateway import Gateway


async def test_an_organisation_its_client_and_its_staff_are_registered_and_listed(gateway: Gateway) -> None:
    admin = await gateway.bearer()
    school = await gateway.http.post(
        "/admin/organisations", json={"name": "Hill Top Primary", "type": "school"}, headers=admin
    )
    assert school.status_code == 201
    assert school.json() | {"id": "", "created_at": ""} == {
        "id": "", "name": "Hill Top Primary", "type": "school", "coordinator": False, "created_at": "",
        "disabled": False,
    }  # fmt: skip
    school_id = school.json()["id"]

    client = await gateway.http.post(
        "/admin/clients",
        json={"organisation_id": school_id, "name": "School MIS", "scopes": ["assessments:write", "plans:read"]},
        headers=admin,
    )
    assert client.status_code == 201
    secret = client.json()["client_secret"]
    assert len(secret) >= 40

    user = await gateway.http.post(
        "/admin/users",
        json={"organisation_id": school_id, "email": " Head@HillTop.sch.uk ", "name": "A Head", "roles": ["manager"]},
        headers=admin,
    )
    assert user.status_code == 201
    assert user.json()["email"] == "head@hilltop.sch.uk"
    password = user.json()["initial_password"]

    clients = (await gateway.http.get("/admin/clients", params={"organisation_id": school_id}, headers=admin)).json()
    assert [(c["name"], c["scopes"]) for c in clients] == [("School MIS", ["assessments:write", "plans:read"])]
    assert "client_secret" not in clients[0]
    users = (await gateway.http.get("/admin/users", params={"organisation_id": school_id}, headers=admin)).json()
    assert [(u["email"], u["roles"]) for u in users] == [("head@hilltop.sch.uk", ["manager"])]
    assert "initial_password" not in users[0]
    assert "Hill Top Primary" in [
        o["name"] for o in (await gateway.http.get("/admin/organisations", headers=admin)).json()
    ]

    async with gateway.app.state.database.sessionmaker() as session:
        query = select(ApiClient).where(col(ApiClient.name) == "School MIS")
        stored_client = (await session.execute(query)).scalar_one()
        stored_user = (await session.execute(select(StaffUser))).scalar_one()
    assert stored_client.secret_hash.startswith("$argon2id$") and secret not in stored_client.secret_hash
    assert stored_user.password_hash.startswith("$argon2id$") and password not in stored_user.password_hash


async def test_duplicates_unknown_scopes_and_missing_organisations_are_refused_clearly(gateway: Gateway) -> None:
    admin = await gateway.bearer()
    first = await gateway.http.post("/admin/organisations", json={"name": "Twice", "type": "health"}, headers=admin)
    again = await gateway.http.post("/admin/organisations", json={"name": "Twice", "type": "health"}, headers=admin)
    assert again.status_code == 409
    assert again.json()["detail"] == "An organisation with that name exists already."

    unknown_scope = await gateway.http.post(
        "/admin/clients",
        json={"organisation_id": first.json()["id"], "name": "x", "scopes": ["plans:read", "everything"]},
        headers=admin,
    )
    assert unknown_scope.status_code == 422
    assert [error["pointer"] for error in unknown_scope.json()["errors"]] == ["/scopes/1"]

    nowhere = await gateway.http.post(
        "/admin/users",
        json={"organisation_id": "no-such-org", "email": "a@b.org", "name": "A", "roles": ["practitioner"]},
        headers=admin,
    )
    assert nowhere.status_code == 404
    assert nowhere.json()["detail"] == "No such organisation."

    bad_type = await gateway.http.post("/admin/organisations", json={"name": "X", "type": "church"}, headers=admin)
    assert bad_type.status_code == 422
    assert bad_type.json()["errors"][0]["pointer"] == "/type"


async def test_the_admin_api_needs_the_admin_scope(gateway: Gateway) -> None:
    admin = await gateway.bearer()
    organisation = await gateway.http.post(
        "/admin/organisations", json={"name": "Org", "type": "police"}, headers=admin
    )
    reader = await gateway.http.post(
        "/admin/clients",
        json={"organisation_id": organisation.json()["id"], "name": "Reader", "scopes": ["plans:read"]},
        headers=admin,
    )
    reader_token = await gateway.token(reader.json()["id"], reader.json()["client_secret"])

    refused = await gateway.http.get("/admin/organisations", headers={"Authorization": f"Bearer {reader_token}"})
    assert refused.status_code == 403
    assert refused.json()["missing_scope"] == "admin"
    assert (await gateway.http.get("/admin/organisations")).status_code == 401
