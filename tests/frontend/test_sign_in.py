"""Signing in and out, session timeout and CSRF, over plain HTTP as a browser without scripts would."""

import asyncio
import re
from dataclasses import replace

import httpx
from sqlalchemy import select

from gateway.credentials import HashingPool
from gateway.models import StaffSession
from gateway.ratelimit import ProgressiveDelay, RateLimiter
from tests.support.browser import People, hidden, sign_in
from tests.support.gateway import GatewayStack


async def test_a_wrong_password_is_refused_the_govuk_way_and_a_right_one_opens_a_session_held_only_as_a_digest(
    stack: GatewayStack, people: People
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as http:
        refused = await sign_in(http, people.school, password="not-the-password")
        assert refused.status_code == 422
        assert "gp_session" not in refused.cookies
        assert '<div class="govuk-error-summary"' in refused.text
        assert '<a href="#email">Enter a correct e-mail address and password.</a>' in refused.text
        assert 'value="SENCO@HILLTOP.EXAMPLE"' in refused.text  # what was typed is kept

        signed = await sign_in(http, people.school)
        assert signed.status_code == 303 and signed.headers["location"] == "/staff/home"
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


async def test_a_form_without_its_csrf_token_changes_nothing(stack: GatewayStack, people: People) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as http:
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


async def test_signing_out_ends_the_session_and_the_old_cookie_opens_nothing(
    stack: GatewayStack, people: People
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as http:
        await sign_in(http, people.school)
        token = http.cookies["gp_session"]
        page = (await http.get("/staff/find")).text
        out = await http.post("/staff/sign-out", data={"csrf_token": hidden(page, "csrf_token")})
        assert out.status_code == 303 and out.headers["location"] == "/staff/sign-in?signed-out=1"
        assert "You have signed out." in (await http.get(out.headers["location"])).text

    async with httpx.AsyncClient(base_url=stack.gateway.url, cookies={"gp_session": token}, timeout=30) as replayed:
        again = await replayed.get("/staff/families/new")
    assert again.status_code == 303
    assert again.headers["location"] == "/staff/sign-in?next=%2Fstaff%2Ffamilies%2Fnew"


async def test_a_session_left_idle_times_out_and_sign_in_returns_to_the_page_asked_for(
    stack: GatewayStack, people: People
) -> None:
    stack.gateway.app.state.settings.front_end.idle_minutes = 0.02  # 1.2 seconds
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as http:
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
        assert elsewhere.headers["location"] == "/staff/home"


async def test_the_sign_in_form_needs_its_own_token_and_a_disabled_member_is_signed_out(
    stack: GatewayStack, people: People
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as http:
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


def from_address(base_url: str, address: str) -> httpx.AsyncClient:
    """A client whose requests come from another loopback address: another computer, as the gateway sees it."""
    return httpx.AsyncClient(base_url=base_url, transport=httpx.AsyncHTTPTransport(local_address=address), timeout=30)


async def test_guessing_a_password_is_slowed_for_that_address_and_client_alone_and_never_locked(
    stack: GatewayStack, people: People
) -> None:
    # Waits of 3 s and 6 s rather than 1 s and 2 s, so that a loaded machine cannot outlast one between two requests.
    delay: ProgressiveDelay = stack.gateway.app.state.sign_in_delay
    delay.first_delay_seconds = 3.0
    async with from_address(stack.gateway.url, "127.0.0.1") as http:
        for _ in range(5):  # FRONT_END_SIGN_IN_ATTEMPTS
            assert (await sign_in(http, people.school, password="a-guess")).status_code == 422
        slowed = await sign_in(http, people.school)  # even the right password waits now, unchecked
        assert slowed.status_code == 429 and 0 < int(slowed.headers["retry-after"]) <= 3
        assert re.search(r"Too many attempts\. Wait \d seconds, then try again\.", slowed.text)
        assert "gp_session" not in http.cookies

        await asyncio.sleep(3.1)
        assert (await sign_in(http, people.school, password="another-guess")).status_code == 422
        doubled = await sign_in(http, people.school)
        assert doubled.status_code == 429 and 3 < int(doubled.headers["retry-after"]) <= 6

        other_member = await sign_in(http, people.health)  # the same computer, another member: not slowed
        assert other_member.status_code == 303

    async with from_address(stack.gateway.url, "127.0.0.2") as elsewhere:
        own_computer = await sign_in(elsewhere, people.school)  # the member, from their own computer: not locked out
        assert own_computer.status_code == 303 and own_computer.headers["location"] == "/staff/home"

    await asyncio.sleep(6.1)
    async with from_address(stack.gateway.url, "127.0.0.1") as http:
        waited = await sign_in(http, people.school)
        assert waited.status_code == 303


async def test_one_client_address_trying_many_e_mail_addresses_is_limited_whatever_the_addresses(
    stack: GatewayStack, people: People
) -> None:
    stack.gateway.app.state.sign_in_limiter = RateLimiter(per_second=1 / 60, burst=4)  # 30 by default
    async with from_address(stack.gateway.url, "127.0.0.3") as http:
        for number in range(4):
            stranger = replace(people.school, email=f"nobody{number}@example.org")
            assert (await sign_in(http, stranger, password="a-guess")).status_code == 422
        limited = await sign_in(http, people.school)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert "Too many attempts." in limited.text
    async with from_address(stack.gateway.url, "127.0.0.4") as elsewhere:
        assert (await sign_in(elsewhere, people.school)).status_code == 303


async def test_an_unknown_e_mail_address_waits_for_the_same_bounded_argon2_pool_and_past_it_is_told_to_retry(
    stack: GatewayStack, people: People
) -> None:
    """Unknown addresses cost one argon2 check each, as known ones do, on a pool that turns the excess away."""
    stack.gateway.app.state.hashing = HashingPool(workers=1, waiting=0, wait_seconds=0.1)

    async def try_unknown(number: int) -> httpx.Response:
        async with from_address(stack.gateway.url, f"127.0.1.{number}") as http:
            return await sign_in(http, replace(people.school, email=f"nobody{number}@example.org"), password="guess")

    answers = await asyncio.gather(*(try_unknown(number) for number in range(1, 7)))
    statuses = sorted(answer.status_code for answer in answers)
    assert 422 in statuses and 503 in statuses, statuses
    assert set(statuses) == {422, 503}
    busy = next(answer for answer in answers if answer.status_code == 503)
    assert busy.headers["retry-after"] == "1"
    assert "Too many people are signing in at the moment. Wait a few seconds, then try again." in busy.text


async def test_a_member_must_change_the_password_an_administrator_gave_before_doing_anything_else(
    stack: GatewayStack, people: People
) -> None:
    admin = await stack.gateway.bearer()
    created = await stack.gateway.http.post(
        "/admin/users",
        json={"organisation_id": people.school.organisation_id, "email": "new.teacher@hilltop.example",
              "name": "A new teacher", "roles": ["practitioner"]},
        headers=admin,
    )  # fmt: skip
    temporary = created.json()["initial_password"]
    newcomer = replace(people.school, email="new.teacher@hilltop.example", password=temporary)

    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as other_device:
        assert (await sign_in(other_device, newcomer)).headers["location"] == "/staff/change-password"
        async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as http:
            signed = await sign_in(http, newcomer, next_page="/staff/families/new")
            assert signed.status_code == 303 and signed.headers["location"] == "/staff/change-password"
            for page in ("/staff/find", "/staff/families/new"):
                held = await http.get(page)
                assert held.status_code == 303 and held.headers["location"] == "/staff/change-password"
            form = await http.get("/staff/change-password")
            assert form.status_code == 200 and "Choose a password of your own" in form.text
            assert "Find a family" not in form.text  # no way onward but the change
            token = hidden(form.text, "csrf_token")
            posted = await http.post("/staff/find", data={"system": "nhs", "value": "9434765919", "csrf_token": token})
            assert posted.status_code == 303 and posted.headers["location"] == "/staff/change-password"

            async def change(current: str, new: str, again: str | None = None) -> httpx.Response:
                return await http.post(
                    "/staff/change-password",
                    data={"current_password": current, "new_password": new, "confirm_password": again or new,
                          "csrf_token": token},
                )  # fmt: skip

            wrong = await change("not-it", "a long enough new password")
            assert wrong.status_code == 422 and "Your current password is not right." in wrong.text
            short = await change(temporary, "too short")
            assert short.status_code == 422 and "at least 12 characters" in short.text
            same = await change(temporary, temporary)
            assert same.status_code == 422 and "different from your current one" in same.text
            mismatched = await change(temporary, "a long enough new password", "another one entirely")
            assert mismatched.status_code == 422 and "The passwords do not match." in mismatched.text
            assert (await http.get("/staff/find")).status_code == 303  # still only the change

            changed = await change(temporary, "a long enough new password")
            assert changed.status_code == 303 and changed.headers["location"] == "/staff/home"
            home = await http.get("/staff/find")
            assert home.status_code == 200 and "Signed in as A new teacher" in home.text

        ended = await other_device.get("/staff/find")  # the session opened with the old password is over
        assert ended.status_code == 303 and ended.headers["location"].startswith("/staff/sign-in")

    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as http:
        assert (await sign_in(http, newcomer)).status_code == 422  # the temporary password opens nothing now
        again = await sign_in(http, replace(newcomer, password="a long enough new password"))
        assert again.status_code == 303 and again.headers["location"] == "/staff/home"


async def test_an_identifier_that_is_not_valid_is_explained_beside_the_field(
    stack: GatewayStack, people: People
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as http:
        await sign_in(http, people.school)
        page = (await http.get("/staff/find")).text
        found = await http.post(
            "/staff/find", data={"system": "nhs", "value": "123", "csrf_token": hidden(page, "csrf_token")}
        )
        assert found.status_code == 422
        assert '<a href="#value">Enter a valid NHS number: 10 digits, like 943 476 5919.</a>' in found.text
        assert 'value="123"' in found.text
