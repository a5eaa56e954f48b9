"""What every staff page shares: templates, the signed-in member, CSRF checks, errors as pages, static files.

Pages are Jinja2 templates built on `govuk-frontend-jinja`, a maintained port of
GOV.UK Frontend's Nunjucks macros (its version follows the npm package's, and
`package.json` pins the matching one). Each answer has its own CSP nonce for
GOV.UK's one inline script; everything else loads from the gateway itself.
"""

import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, PackageLoader, PrefixLoader, select_autoescape
from starlette.datastructures import FormData

from gateway.config import FrontEndSettings, GatewaySettings
from gateway.frontend import sessions
from gateway.frontend.calls import ServiceProblem, ServiceUnavailable, StaffCalls
from gateway.frontend.questions import format_date
from gateway.frontend.sessions import Ended, SignedIn
from gateway.ratelimit import RateLimiter
from services.kit.db import SessionDep

PREFIX = "/staff"
SESSION_COOKIE = "gp_session"
SIGN_IN_COOKIE = "gp_sign_in"  # the sign-in form's own CSRF token, before there is a session
SERVICE_NAME = "Early help: Graduated Pathway"

environment = Environment(
    loader=ChoiceLoader(
        [
            PackageLoader("gateway.frontend", "templates"),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    ),
    autoescape=select_autoescape(default=True),
    # The GOV.UK macros read optional parameters deep (`params.hint.text`), as Nunjucks allows.
    undefined=ChainableUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


environment.filters["long_date"] = format_date  # "3 April 2024", as GOV.UK writes dates


def csp(nonce: str) -> str:
    return (
        "default-src 'none'; "
        f"script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "manifest-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    signed_in: SignedIn | None = getattr(request.state, "signed_in", None)
    context = context or {}
    if "error_summary" not in context:
        context["error_summary"] = error_summary(context.get("errors") or {})
    page = environment.get_template(template).render(
        {
            "cspNonce": nonce,
            "serviceName": SERVICE_NAME,
            "serviceUrl": f"{PREFIX}/find",
            "signed_in": signed_in,
            "csrf_token": signed_in.csrf_token if signed_in else "",
            "prefix": PREFIX,
            **context,
        }
    )
    return HTMLResponse(page, status_code=status_code, headers={"Content-Security-Policy": csp(nonce)})


def error_summary(errors: dict[str, str]) -> list[dict[str, str]]:
    """GOV.UK's error summary: each message links to its field, a date to its day (`<name>-day` by convention)."""
    dates = {"date_of_birth", "ends_on", "held_on"}
    return [
        {"text": message, "href": f"#{name}-day" if name in dates else f"#{name}"} for name, message in errors.items()
    ]


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def front_end_settings(request: Request) -> FrontEndSettings:
    settings: GatewaySettings = request.app.state.settings
    return settings.front_end


class SignInNeeded(Exception):
    def __init__(self, timed_out: bool) -> None:
        super().__init__("sign in")
        self.timed_out = timed_out


class PageError(Exception):
    """A page that cannot be shown, with the status and words to show instead."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(title)
        self.status_code, self.title, self.message = status_code, title, message


async def signed_in(request: Request, session: SessionDep) -> SignedIn:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInNeeded(timed_out=False)
    found = await sessions.resume(session, front_end_settings(request), token)
    if isinstance(found, Ended):
        await session.commit()  # the ended session is deleted even though the page is not shown
        raise SignInNeeded(timed_out=found is Ended.TIMED_OUT)
    request.state.signed_in = found
    return found


Staff = Annotated[SignedIn, Depends(signed_in)]


async def staff_calls(request: Request, staff: Staff) -> StaffCalls:
    return StaffCalls(request, staff)


Calls = Annotated[StaffCalls, Depends(staff_calls)]


async def checked_form(request: Request, staff: Staff) -> FormData:
    """The posted form, once its CSRF token matches the session's."""
    form = await request.form()
    if not sessions.same_token(form.get("csrf_token"), staff.csrf_token):
        raise PageError(
            403,
            "This form has expired",
            "Your answers were not saved. Go back, reload the page and try again.",
        )
    return form


Posted = Annotated[FormData, Depends(checked_form)]


def _sign_in_needed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInNeeded)
    query: dict[str, str] = {}
    if exc.timed_out:
        query["timed-out"] = "1"
    if request.method == "GET" and request.url.path != f"{PREFIX}/sign-in":
        query["next"] = request.url.path
    response = see_other(f"{PREFIX}/sign-in" + (f"?{urlencode(query)}" if query else ""))
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def _page_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ServiceUnavailable):
        exc = PageError(503, "Sorry, there is a problem with the service", f"{exc} Try again later.")
    if isinstance(exc, ServiceProblem):
        titles = {403: "You cannot see this", 404: "Page not found", 409: "This cannot be done now"}
        exc = PageError(exc.status, titles.get(exc.status, "Sorry, there is a problem"), exc.detail)
    assert isinstance(exc, PageError)
    return render(request, "error.html", {"title": exc.title, "message": exc.message}, exc.status_code)


def install(app: FastAPI, settings: FrontEndSettings) -> None:
    """Serve GOV.UK Frontend's files and turn the front end's exceptions into pages."""
    # The stylesheet asks for fonts and images under /assets, GOV.UK's default path.
    app.mount("/assets", StaticFiles(directory=settings.govuk_frontend_dir / "assets", check_dir=False), "assets")
    app.mount(
        f"{PREFIX}/static",
        StaticFiles(directory=settings.govuk_frontend_dir, packages=[("gateway.frontend", "static")], check_dir=False),
        "static",
    )
    # Guessing a password is slowed per address, far below the API's rate limit.
    app.state.sign_in_limiter = RateLimiter(per_second=1 / 60, burst=settings.sign_in_attempts)
    app.add_exception_handler(SignInNeeded, _sign_in_needed)
    for page_exception in (PageError, ServiceProblem, ServiceUnavailable):
        app.add_exception_handler(page_exception, _page_error)
