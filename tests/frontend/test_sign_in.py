"""Signing in and out, session timeout and CSRF, over plain HTTP as a browser without scripts would."""

import asyncio
import html
import re

import httpx
from sqlalchemy import select

from gateway.models import StaffSession
from tests.frontend.conftest import Member, People
from tests.gateway.conftest import Stack


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no {name} on the page"
    return html.unescape(found.group(1))


async def sign_in(
    http: httpx.AsyncClient, member: Member, password: str | None = None, next_page: str = ""
) -> httpx.Response:
    form = (await http.get("/staff/sign-in")).text
    return await http.post(
        "/staff/sign-in",
        data={"email": member.email.upper(), "password": password or member.password,
              "sign_in_token": hidden(form, "sign_in_token"), "next": next_page},
    )  # fmt: skip


async def test_a_wrong_password_is_refused_the_govuk_way_and_a_right_one_opens_a_session_held_only_as_a_digest(
    stack: Stack, people: People
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url) as http:
        refused = await sign_in(http, people.school, password="not-the-password")
        assert refused.status_code == 422
        assert "gp_session" not in refused.cookies
        assert '<div class="govuk-error-summary"' in refused.text
        assert '<a href="#email">Enter a correct e-mail address and password.</a>' in refused.text
        assert 'value="SENCO@HILLTOP.EXAMPLE"' in refused.text  # what was typed is kept

        signed = await sign_in(http, people.school)
        assert signed.status_code == 303 and signed.headers["location"] == "/staff/find"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/staff" in cookie
        token = http.cookies["gp_session"]
        home = await http.get("/staff/find")
        assert home.status_code == 200
        assert "Signed in as A school practitioner, Hill Top Primary" in home.text
        policy = home.headers["content-security-policy"]
        nonce = re.search(r"'nonce-([^']+)'", policy)
        assert nonce and f'nonce="{nonce.group(1)}"' in home.text
        assert "default-src 'none'" in policy and home.headers["cache-control"] == "no-store"

    async with stack.gateway.app.state.database.sessionmaker() as session:
        stored = (await session.execute(select(StaffSession))).scalars().all()
    assert len(stored) == 1 and token not in stored[0].token_digest


async def test_a_form_without_its_csrf_token_changes_nothing(stack: Stack, people: People) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url) as http:
        await sign_in(http, people.health)
        page = (await http.get("/staff/families/new")).text
        family = {"child_given_name": "Ava", "child_family_name": "Example", "nhs_number": "9434765919",
                  "parent_given_name": "Sam", "parent_family_name": "Example"}  # fmt: skip
        forged = await http.post("/staff/families/new", data=family | {"csrf_token": "guessed"})
        assert forged.status_code == 403 and "This form has expired" in forged.text
        missing = await http.post("/staff/families/new", data=family)
        assert missing.status_code == 403

        finding = (await http.get("/staff/find")).text
        found = await http.post(
            "/staff/find", data={"system": "nhs", "value": "9434765919", "csrf_token": hidden(finding, "csrf_token")}
        )
        assert "No family was found" in found.text

        made = await http.post("/staff/families/new", data=family | {"csrf_token": hidden(page, "csrf_token")})
        assert made.status_code == 303 and made.headers["location"].startswith("/staff/families/")


async def test_signing_out_ends_the_session_and_the_old_cookie_opens_nothing(stack: Stack, people: People) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url) as http:
        await sign_in(http, people.school)
        token = http.cookies["gp_session"]
        page = (await http.get("/staff/find")).text
        out = await http.post("/staff/sign-out", data={"csrf_token": hidden(page, "csrf_token")})
        assert out.status_code == 303 and out.headers["location"] == "/staff/sign-in?signed-out=1"
        assert "You have signed out." in (await http.get(out.headers["location"])).text

    async with httpx.AsyncClient(base_url=stack.gateway.url, cookies={"gp_session": token}) as replayed:
        again = await replayed.get("/staff/families/new")
    assert again.status_code == 303
    assert again.headers["location"] == "/staff/sign-in?next=%2Fstaff%2Ffamilies%2Fnew"


async def test_a_session_left_idle_times_out_and_sign_in_returns_to_the_page_asked_for(
    stack: Stack, people: People
) -> None:
    stack.gateway.app.state.settings.front_end.idle_minutes = 0.02  # 1.2 seconds
    async with httpx.AsyncClient(base_url=stack.gateway.url) as http:
        await sign_in(http, people.school)
        assert (await http.get("/staff/find")).status_code == 200
        await asyncio.sleep(1.5)
        timed_out = await http.get("/staff/families/new")
        assert timed_out.status_code == 303
        assert timed_out.headers["location"] == "/staff/sign-in?timed-out=1&next=%2Fstaff%2Ffamilies%2Fnew"
        notice = await http.get(timed_out.headers["location"])
        assert "You were signed out because you had not done anything for a while." in notice.text
        assert hidden(notice.text, "next") == "/staff/families/new"

        back = await sign_in(http, people.school, next_page="/staff/families/new")
        assert back.headers["location"] == "/staff/families/new"
        elsewhere = await sign_in(http, people.school, next_page="//evil.example/staff/")
        assert elsewhere.headers["location"] == "/staff/find"


async def test_the_sign_in_form_needs_its_own_token_and_a_disabled_member_is_signed_out(
    stack: Stack, people: People
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url) as http:
        forged = await http.post(
            "/staff/sign-in",
            data={"email": people.school.email, "password": people.school.password, "sign_in_token": "x"},
        )
        assert forged.status_code == 403 and "gp_session" not in forged.cookies

        await sign_in(http, people.school)
        admin = await stack.gateway.bearer()
        users = (await stack.gateway.http.get("/admin/users", headers=admin)).json()
        school = next(user for user in users if user["email"] == people.school.email)
        await stack.gateway.http.post(f"/admin/users/{school['id']}/disable", headers=admin)
        after = await http.get("/staff/find")
        assert after.status_code == 303 and after.headers["location"].startswith("/staff/sign-in")
        refused = await sign_in(http, people.school)
        assert refused.status_code == 422


async def test_guessing_a_password_is_slowed_for_that_address_alone(stack: Stack, people: People) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url) as http:
        for _ in range(10):
            assert (await sign_in(http, people.school, password="a-guess")).status_code == 422
        slowed = await sign_in(http, people.school)  # even the right password waits now
        assert slowed.status_code == 429
        assert "Too many attempts. Wait a minute, then try again." in slowed.text
        assert "gp_session" not in http.cookies
        other = await sign_in(http, people.health)
        assert other.status_code == 303


async def test_an_identifier_that_is_not_valid_is_explained_beside_the_field(stack: Stack, people: People) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url) as http:
        await sign_in(http, people.school)
        page = (await http.get("/staff/find")).text
        found = await http.post(
            "/staff/find", data={"system": "nhs", "value": "123", "csrf_token": hidden(page, "csrf_token")}
        )
        assert found.status_code == 422
        assert '<a href="#value">Enter a valid NHS number: 10 digits, like 943 476 5919.</a>' in found.text
        assert 'value="123"' in found.text
