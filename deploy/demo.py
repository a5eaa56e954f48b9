"""The first start of `make up`: an admin client, the services' own client, and demo organisations.

The bootstrap client's secret is printed once and kept nowhere but as a hash in
the gateway's database. The services' client is kept in
`<data>/service-client.json`, readable by the owner only, since every start hands
it to the services again. The demo organisations' credentials are demo data: they
are kept in `<data>/demo-credentials.json`, readable by the owner only, so that
every start can show how to get a token.
"""

import json
import os
import secrets
from pathlib import Path
from typing import Any

import httpx

BOOTSTRAP_ID_ENV = "GATEWAY_BOOTSTRAP_CLIENT_ID"
BOOTSTRAP_SECRET_ENV = "GATEWAY_BOOTSTRAP_CLIENT_SECRET"  # noqa: S105 (a variable name, not a secret)
SERVICE_CLIENT_ID_ENV = "GATEWAY_SERVICE_CLIENT_ID"
SERVICE_CLIENT_SECRET_ENV = "GATEWAY_SERVICE_CLIENT_SECRET"  # noqa: S105
SEEDED_MARKER = "bootstrapped"
CREDENTIALS_FILE = "demo-credentials.json"
SERVICE_CLIENT_FILE = "service-client.json"

DEMO: list[dict[str, Any]] = [
    {
        "organisation": {"name": "Northshire County Council Early Help", "type": "council", "coordinator": True},
        # audit:read: the council's case system also answers subject access requests from the access log.
        "scopes": ["assessments:read", "assessments:write", "plans:read", "plans:write", "consent:read",
                   "consent:write", "reports:read", "subscriptions:manage", "audit:read"],
        "user": {"email": "lead.practitioner@northshire.example", "name": "Demo Lead Practitioner",
                 "roles": ["practitioner", "manager"]},
    },
    {
        "organisation": {"name": "Hill Top Primary School", "type": "school"},
        "scopes": ["assessments:read", "assessments:write", "plans:read", "consent:read", "consent:write"],
        "user": {"email": "senco@hilltop.example", "name": "Demo SENCo", "roles": ["practitioner"]},
    },
    {
        "organisation": {"name": "Northshire Health Visiting Team", "type": "health"},
        "scopes": ["assessments:read", "assessments:write", "plans:read", "consent:read", "consent:write",
                   "subscriptions:manage"],
        "user": {"email": "health.visitor@northshire-nhs.example", "name": "Demo Health Visitor",
                 "roles": ["practitioner"]},
    },
    {
        "organisation": {"name": "Northshire Family Support Charity", "type": "voluntary"},
        "scopes": ["assessments:read", "plans:read", "consent:read"],
        "user": {"email": "family.worker@charity.example", "name": "Demo Family Worker", "roles": ["practitioner"]},
    },
]  # fmt: skip


def bootstrap_credentials(data_dir: Path) -> tuple[str, str] | None:
    """The admin client the gateway should create: from the environment, else new on first start."""
    from_env = os.environ.get(BOOTSTRAP_ID_ENV), os.environ.get(BOOTSTRAP_SECRET_ENV)
    if from_env[0] and from_env[1]:
        return from_env[0], from_env[1]
    if (data_dir / SEEDED_MARKER).exists():
        return None
    return f"pw_admin_{secrets.token_hex(4)}", secrets.token_urlsafe(32)


def service_client_credentials(data_dir: Path) -> tuple[str, str]:
    """The services' own client: made on first start, then read back so that restarts keep it."""
    path = data_dir / SERVICE_CLIENT_FILE
    if not path.exists():
        made = {"client_id": f"pw_services_{secrets.token_hex(4)}", "client_secret": secrets.token_urlsafe(32)}
        written = path.with_name(f"{path.name}.new")  # renamed into place whole, so a crash leaves no half a file
        written.unlink(missing_ok=True)
        written.touch(mode=0o600)
        written.write_text(json.dumps(made, indent=2))
        written.replace(path)
    kept = json.loads(path.read_text())
    return str(kept["client_id"]), str(kept["client_secret"])


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any], admin: dict[str, str]) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=admin)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


async def seed(gateway_url: str, data_dir: Path, client_id: str, secret: str) -> None:
    """Create the demo organisations once, and note that the first start is done."""
    if (data_dir / SEEDED_MARKER).exists():
        return
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        admin = await bearer(client, client_id, secret)
        credentials = []
        for demo in DEMO:
            organisation = await _post(client, "/admin/organisations", demo["organisation"], admin)
            api_client = await _post(
                client,
                "/admin/clients",
                {"organisation_id": organisation["id"], "name": "Demo case system", "scopes": demo["scopes"]},
                admin,
            )
            user = await _post(client, "/admin/users", {"organisation_id": organisation["id"], **demo["user"]}, admin)
            credentials.append(
                {
                    "organisation": organisation["name"],
                    "organisation_id": organisation["id"],
                    "type": organisation["type"],
                    "client_id": api_client["id"],
                    "client_secret": api_client["client_secret"],
                    "staff_email": user["email"],
                    "staff_password": user["initial_password"],
                }
            )
    path = data_dir / CREDENTIALS_FILE
    path.touch(mode=0o600)
    path.write_text(json.dumps(credentials, indent=2))
    (data_dir / SEEDED_MARKER).touch()
    print(f"\nFirst start: an admin client was made. Its secret is shown this once:\n"
          f"  client id      {client_id}\n  client secret  {secret}\n")  # fmt: skip


def demo_clients(data_dir: Path) -> dict[str, dict[str, str]]:
    """The demo organisations' API clients and staff sign-ins, by organisation type, as the first start wrote them."""
    listed: list[dict[str, str]] = json.loads((data_dir / CREDENTIALS_FILE).read_text())
    return {entry["type"]: entry for entry in listed}


async def bearer(client: httpx.AsyncClient, client_id: str, secret: str) -> dict[str, str]:
    """An Authorization header for an API client, from the token endpoint of the gateway at `client`'s base URL."""
    issued = await client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    issued.raise_for_status()
    return {"Authorization": f"Bearer {issued.json()['access_token']}"}


def how_to_get_a_token(gateway_url: str, data_dir: Path) -> str:
    path = data_dir / CREDENTIALS_FILE
    if not path.exists():
        return ""
    demos = json.loads(path.read_text())
    lines = [f"Demo organisations (credentials in {path}):"]
    lines += [f"  {d['type']:<10} {d['organisation']:<40} client {d['client_id']}" for d in demos]
    first = demos[0]
    lines += [
        "Get a token:",
        f"  curl -s -u {first['client_id']}:{first['client_secret']} -d grant_type=client_credentials "
        f"{gateway_url}/oauth/token",
    ]
    return "\n".join(lines)
