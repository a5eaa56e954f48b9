"""The access log's scope, `audit:read`: carried by the data protection officer's and the admin's staff roles only,
and one the admin may give a client it registers."""

from gateway.scopes import GRANTABLE_SCOPES, Scope, StaffRole, staff_scope

READERS_OF_THE_LOG = {StaffRole.DATA_PROTECTION_OFFICER, StaffRole.ADMIN}


def test_the_data_protection_officer_and_the_admin_hold_audit_read_and_no_other_role() -> None:
    holds = {role for role in StaffRole if Scope.AUDIT_READ in staff_scope(role.value).split()}
    assert holds == READERS_OF_THE_LOG
    # A practitioner who is also the data protection officer holds it through that role.
    assert Scope.AUDIT_READ in staff_scope("practitioner data_protection_officer").split()
    assert Scope.AUDIT_READ in GRANTABLE_SCOPES
