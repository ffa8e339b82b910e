"""State across restarts (sam_local_cloud/state.py, docs/local-cloud.md "State across restarts"): a cloud
stopped as Ctrl-C stops it and started again on the same state keeps its products, its pool with the same
client ids and secrets, its people (password, groups, refresh tokens), and the tokens it issued before;
`--fresh` starts clean; a state file it cannot read stops the start with a message, not a traceback."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from events.generate import group_scopes
from sam_local_cloud.cloudformation.spec import read_spec
from sam_local_cloud.cloudformation.template import translate
from sam_local_cloud.state import KEY_FILE, SAVE_SECONDS, STATE_FILE
from tests.e2e.sign_in import SignedIn, create_person, refresh, sign_in
from tests.e2e.support import HTTP, LOCAL_ONLY, REST, Api, Person, Stack, local_stack, new_product
from tests.harness import LocalCloud, LocalCloudDidNotStart, client_token, start_local_cloud, widest_client

pytestmark = LOCAL_ONLY


@dataclass
class Before:
    """What the first run made and handed out, to be found again after the restart."""

    outputs: dict[str, Any]
    machine_token: str
    product: dict[str, Any]
    person: Person
    signed_in: SignedIn
    state: Path


def machine_token(stack: Stack) -> str:
    client = stack.clients[widest_client(stack.clients)]
    return client_token(stack.token_url, client.client_id, client.secret)


def widest_group(stack: Stack) -> str:
    groups = group_scopes(translate(stack.parameters))
    return max(groups, key=lambda group: len(groups[group]))


@pytest.fixture(scope="module")
def restarted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Before, LocalCloud]]:
    workdir = tmp_path_factory.mktemp("state")
    state = workdir / "state"
    first = start_local_cloud(workdir, "--state", str(state))
    try:
        stack = local_stack(first)
        person = create_person(stack, (widest_group(stack),), label="restart")
        signed_in = sign_in(stack, person)
        token = machine_token(stack)
        # The last write, acknowledged just before the stop: the save at the stop holds it.
        created = Api(stack, REST).call("POST", "/products", token=token, json=new_product())
        assert created.status_code == 201, created.text
        before = Before(first.outputs, token, created.json(), person, signed_in, state)
    finally:
        assert first.stop(signal.SIGINT) == 0  # as Ctrl-C stops `make local`
    second = start_local_cloud(workdir, "--state", str(state))
    try:
        yield before, second
    finally:
        second.stop()


def test_the_pool_its_clients_secrets_and_api_key_are_kept(restarted: tuple[Before, LocalCloud]) -> None:
    before, cloud = restarted
    for name in ("UserPoolId", "Issuer", "Clients", "ApiKey", "Users"):
        assert cloud.outputs.get(name) == before.outputs.get(name), name
    assert "kept from" in cloud.wait_for_console("State")


@pytest.mark.parametrize("kind", [REST, HTTP], ids=["REST", "HTTP"])
def test_a_product_made_before_is_there_for_a_token_issued_before(
    restarted: tuple[Before, LocalCloud], kind: Any
) -> None:
    before, cloud = restarted
    api = Api(local_stack(cloud), kind)
    response = api.call("GET", f"/products/{before.product['id']}", token=before.machine_token)
    assert response.status_code == 200, response.text
    assert response.json() == before.product


def test_a_person_signs_in_again_and_their_refresh_token_still_works(
    restarted: tuple[Before, LocalCloud],
) -> None:
    before, cloud = restarted
    stack = local_stack(cloud)
    again = sign_in(stack, before.person)  # the password and the confirmation were kept
    assert before.signed_in.refresh_token is not None
    refreshed = refresh(stack, before.signed_in.refresh_token)
    api = Api(stack, HTTP)
    for token in (before.signed_in.access_token, again.access_token, refreshed.access_token):
        response = api.call("GET", f"/products/{before.product['id']}", token=token)
        assert response.status_code == 200, response.text


def test_fresh_starts_clean(restarted: tuple[Before, LocalCloud], tmp_path: Path) -> None:
    before, _cloud = restarted
    copy = tmp_path / "state"
    copy.mkdir()
    (copy / STATE_FILE).write_bytes((before.state / STATE_FILE).read_bytes())
    fresh = start_local_cloud(tmp_path, "--state", str(copy), "--fresh")
    try:
        assert fresh.outputs["UserPoolId"] != before.outputs["UserPoolId"]
        assert fresh.outputs["Clients"] != before.outputs["Clients"]
        token = machine_token(local_stack(fresh))
        response = Api(local_stack(fresh), REST).call("GET", f"/products/{before.product['id']}", token=token)
        assert response.status_code == 404, response.text
        assert "(new;" in fresh.console
    finally:
        fresh.stop()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: b"not a state file\n" + data, id="not-a-state-file"),
        pytest.param(lambda data: data[: len(data) // 2], id="cut-short"),
        pytest.param(lambda data: data.replace(b'"moto": "', b'"moto": "0.', 1), id="another-moto"),
    ],
)
def test_a_state_file_it_cannot_read_stops_the_start_with_a_message(
    restarted: tuple[Before, LocalCloud], tmp_path: Path, damage: Any
) -> None:
    before, _ = restarted
    copy = tmp_path / "state"
    copy.mkdir()
    (copy / STATE_FILE).write_bytes(damage((before.state / STATE_FILE).read_bytes()))
    with pytest.raises(LocalCloudDidNotStart) as refused:
        start_local_cloud(tmp_path, "--state", str(copy), timeout=30)
    message = str(refused.value)
    assert "Traceback" not in message
    assert f"{copy / STATE_FILE}:" in message
    assert "make local-clean" in message


def test_after_a_crash_the_writes_saved_a_second_before_are_there(tmp_path: Path) -> None:
    """A crash (SIGKILL: no save at the stop) loses at most the writes of the last SAVE_SECONDS."""
    state = tmp_path / "state"
    first = start_local_cloud(tmp_path, "--state", str(state))
    try:
        stack = local_stack(first)
        token = machine_token(stack)
        product = Api(stack, REST).call("POST", "/products", token=token, json=new_product()).json()
        time.sleep(SAVE_SECONDS + 1)
    finally:
        first.stop(signal.SIGKILL)
    second = start_local_cloud(tmp_path, "--state", str(state))
    try:
        response = Api(local_stack(second), HTTP).call("GET", f"/products/{product['id']}", token=token)
        assert response.status_code == 200, response.text
        assert response.json() == product
    finally:
        second.stop()


def test_a_second_cloud_on_the_same_state_is_refused(
    restarted: tuple[Before, LocalCloud], tmp_path: Path
) -> None:
    before, _ = restarted  # the restarted cloud holds its state folder
    with pytest.raises(LocalCloudDidNotStart) as refused:
        start_local_cloud(tmp_path, "--state", str(before.state), timeout=30)
    assert "another local cloud" in str(refused.value)
    assert "Traceback" not in str(refused.value)


def test_a_template_that_changed_keeps_what_was_made_and_makes_what_is_new(
    restarted: tuple[Before, LocalCloud], tmp_path: Path
) -> None:
    """RequireApiKey=true adds an API key and its usage plan to the template: they are created, the
    pool and its clients are kept, and the banner names what is new. AllowUserPasswordAuth=false
    changes an app client's properties: it is kept as it was made, and the banner says so."""
    before, _ = restarted
    copy = tmp_path / "state"
    copy.mkdir()
    (copy / STATE_FILE).write_bytes((before.state / STATE_FILE).read_bytes())
    (copy / KEY_FILE).write_bytes((before.state / KEY_FILE).read_bytes())
    overrides = {"RequireApiKey": "true", "AllowUserPasswordAuth": "false"}
    arguments = ["--parameter-overrides", *(f"{k}={v}" for k, v in overrides.items())]
    changed = start_local_cloud(tmp_path, "--state", str(copy), *arguments)
    try:
        assert changed.outputs["Clients"] == before.outputs["Clients"]
        assert changed.outputs["UserPoolId"] == before.outputs["UserPoolId"]
        assert "ApiKey" in changed.outputs
        new = read_spec(translate(overrides)).api_keys
        assert new
        lines = changed.console.splitlines()
        line = next(line for line in lines if "new in the template" in line)
        assert all(key in line for key in new), line
        clients_then = translate({"AllowUserPasswordAuth": "true"}).of_type("AWS::Cognito::UserPoolClient")
        clients_now = translate(overrides).of_type("AWS::Cognito::UserPoolClient")
        differ = [name for name in clients_now if clients_now[name] != clients_then.get(name)]
        assert differ
        line = next(line for line in lines if "changed in the template" in line)
        assert all(name in line for name in differ), line
        stack = local_stack(changed)
        response = Api(stack, REST).call(
            "GET", f"/products/{before.product['id']}", token=before.machine_token
        )
        assert response.status_code == 200, response.text
    finally:
        changed.stop()
