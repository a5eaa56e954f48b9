"""The consent service's rules, one module per thing it keeps: agreements, grants, overrides, requests for access.

`decisions` answers who may see a family's records and who holds a basis to act; `audit`
records what was done and keeps the hash-chained access log; `errors` holds every problem
the rules raise. No SQL here: every query is in `services.consent.repository`.
What routes and the app use is re-exported here, so they call `service.<use case>`.
"""

from services.consent.service.access_requests import (
    approve_request,
    decline_request,
    incoming_requests,
    outgoing_requests,
    read_request,
    request_access,
    request_access_on_registration,
    request_status,
)
from services.consent.service.audit import (
    ENTRY_APPENDED,
    append_to_audit,
    audit_of_family,
    sign_checkpoint,
    sign_checkpoint_when_due,
    verify_audit,
)
from services.consent.service.decisions import access_revision, decide_access
from services.consent.service.endings import announce_endings, announce_endings_when_due
from services.consent.service.family_agreements import agreements, record_agreement, withdraw_agreement
from services.consent.service.readers import may_read_record
from services.consent.service.relations import record_relations
from services.consent.service.safeguarding_overrides import close_override, open_override, overrides
from services.consent.service.sharing_grants import grant_consent, grant_status, grants, read_grant, withdraw_consent

__all__ = [
    "ENTRY_APPENDED",
    "access_revision",
    "agreements",
    "announce_endings",
    "announce_endings_when_due",
    "append_to_audit",
    "approve_request",
    "audit_of_family",
    "close_override",
    "decide_access",
    "decline_request",
    "grant_consent",
    "grant_status",
    "grants",
    "incoming_requests",
    "may_read_record",
    "open_override",
    "outgoing_requests",
    "overrides",
    "read_grant",
    "read_request",
    "record_agreement",
    "record_relations",
    "request_access",
    "request_access_on_registration",
    "request_status",
    "sign_checkpoint",
    "sign_checkpoint_when_due",
    "verify_audit",
    "withdraw_agreement",
    "withdraw_consent",
]
