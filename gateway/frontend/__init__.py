"""The staff front end: GOV.UK-styled pages, served by the gateway, over the same public API as partner systems."""
