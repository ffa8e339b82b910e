"""The clients-by-scopes helper of tests/harness.py reads every shape a client comes in: the template's
properties, the outputs' entries and the e2e suite's Client."""

from __future__ import annotations

from sam_local_cloud.cloudformation.spec import read_spec
from sam_local_cloud.cloudformation.template import translate
from tests.e2e.support import Client
from tests.harness import clients_by_scopes, machine_clients, narrowest_client, scopes_of, widest_client

TEMPLATE = translate()
MACHINE = read_spec(TEMPLATE).clients  # the template's client_credentials clients, their properties


def _shapes() -> dict[str, dict[str, object]]:
    """The template's machine clients as the template, the outputs and the e2e suite hold them."""
    scopes = {name: p["AllowedOAuthScopes"] for name, p in MACHINE.items()}
    return {
        "template": dict(MACHINE),
        "outputs": {name: {"AllowedScopes": allowed} for name, allowed in scopes.items()},
        "e2e": {name: Client(name, "id", "secret", tuple(allowed)) for name, allowed in scopes.items()},
    }


def test_every_shape_orders_the_clients_by_how_many_scopes_they_allow():
    counts = {name: len(p["AllowedOAuthScopes"]) for name, p in MACHINE.items()}
    assert len(set(counts.values())) > 1, "the template's machine clients should differ in scopes"

    for shape, clients in _shapes().items():
        ordered = clients_by_scopes(clients)
        assert [counts[name] for name in ordered] == sorted(counts.values()), shape
        assert counts[widest_client(clients)] == max(counts.values()), shape
        assert counts[narrowest_client(clients)] == min(counts.values()), shape
        assert set(scopes_of(clients[ordered[-1]])) == set(MACHINE[ordered[-1]]["AllowedOAuthScopes"]), shape


def test_machine_clients_leave_out_the_clients_of_people():
    entries = {}
    for name, client in TEMPLATE.of_type("AWS::Cognito::UserPoolClient").items():
        props = client["Properties"]
        entries[name] = {
            "AllowedOAuthFlows": props.get("AllowedOAuthFlows", []),
            "AllowedScopes": props.get("AllowedOAuthScopes", []),
        }

    machines = machine_clients({"Clients": entries})

    assert set(machines) == set(MACHINE)
    assert set(entries) - set(machines), "the template should have a client for people too"
