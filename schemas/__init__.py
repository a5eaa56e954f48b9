"""The contracts that cross a service boundary, as files; `asyncapi` writes the one built from the others."""
