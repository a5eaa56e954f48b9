"""The consent service: Sharing grants, access decisions, safeguarding overrides and the access audit."""
