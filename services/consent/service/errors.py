"""Every problem the consent service's rules raise, each with its stable `type` slug."""

from services.kit.problems import Conflict, NotFound


class GrantNotFound(NotFound):
    slug, title = "consent-not-found", "No such sharing grant"


class OverrideNotFound(NotFound):
    slug, title = "override-not-found", "No such safeguarding override"


class AgreementNotFound(NotFound):
    slug, title = "agreement-not-found", "No such agreement"


class WithdrawnAlready(Conflict):
    slug, title = "withdrawn-already", "This was withdrawn already"


class AccessRequestNotFound(NotFound):
    slug, title = "access-request-not-found", "No such access request"


class AccessRequestAnswered(Conflict):
    slug, title = "access-request-answered", "The access request is answered already"
