"""The local cloud's state across restarts: where it lives, how it is loaded, saved and started afresh.

A deployed stack outlives a laptop's reboot; so does the local cloud. Its state is one file in a folder
of its own (by default `.local/state/<template>-<stack>-<region>-<port>/` beside the template, so two
clouds on two ports never share one; for several stacks served together, `<stack>` is their names
joined by `+`, the main one last), written whole and renamed into place, never half-written:
- moto's backends, pickled as they are (sam_local_cloud/aws_apis/snapshot.py): the user pool, its clients and
  secrets, people with their passwords, groups, attributes and status, API keys, every table's items,
  and whatever else the local AWS holds (queues' messages, buckets' objects...);
- what the local cloud made of each stack's template (`Record`: each resource's physical id and
  attributes, by logical id; one record per stack, by stack name, nested stacks included), so the next
  start keeps those resources instead of making new ones, and makes only what is new;
- the refresh tokens issued to people (sam_local_cloud/cognito/people.py).
The pool's signing key is a file beside it (`signing-key.pem`), so tokens issued before a restart still
verify after it, until they expire.

When it is saved: on every stop (Ctrl-C, SIGTERM), with the AWS APIs paused and never resumed, so every
write acknowledged before the stop is in it; and while the cloud runs, within a second of a write (or
20 times as long as the last save took, when the state is large enough that saving every second would
take more than a twentieth of a core), so a crash loses at most the writes of that last interval.
A lock on the folder keeps a second cloud out of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sam_local_cloud import console
from sam_local_cloud.aws_apis import MOTO_VERSION, snapshot
from sam_local_cloud.cloudformation.provision import Provisioned, Provisioner
from sam_local_cloud.cloudformation.resolve import Unresolvable
from sam_local_cloud.cloudformation.template import Template

FORMAT = 2  # of the file below; a change that old files cannot be read with counts it up
_READABLE = (1, FORMAT)  # format 1: one stack's record (its main stack's), read as such
STATE_FILE = "state.bin"
KEY_FILE = "signing-key.pem"
_LOCK_FILE = "lock"
_MAGIC = b"product-api local cloud state\n"
SAVE_SECONDS = 1.0  # a write is saved within this, while the cloud runs
_SAVE_SHARE = 20  # ...or within this many times the last save's duration, whichever is longer


def default_directory(
    template: Path, stack_name: str, region: str, port: int, others: tuple[str, ...] = ()
) -> Path:
    """Beside the (main) template, one folder per template, set of stacks, region and port: `others`,
    the names of the stacks served before the main one, in order."""
    stacks = "+".join([*others, stack_name])
    return template.parent / ".local" / "state" / f"{template.stem}-{stacks}-{region}-{port}"


@dataclass(frozen=True)
class SavedResource:
    type: str
    properties: str  # a digest of the template's properties when it was made
    ref: Any
    attributes: dict[str, Any]


@dataclass
class Record:
    """What the local cloud made of the template: kept with moto's state, read back at the next start."""

    resources: dict[str, SavedResource] = field(default_factory=dict)
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    api_key_values: dict[str, str] = field(default_factory=dict)


def _digest(resource: dict[str, Any]) -> str:
    text = json.dumps(resource.get("Properties", {}), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Kept:
    """The resources of the last run, handed to provisioning: those still in the template are kept as
    they were made (their data with them in moto), instead of being made anew."""

    def __init__(self, record: Record, saved_at: str):
        self.record = record
        self.saved_at = saved_at
        self.kept: list[str] = []
        self.changed: list[str] = []  # kept, though the template's properties differ now

    def restore(self, made: Provisioned, name: str, resource: dict[str, Any]) -> bool:
        """Whether `name` was made before (and so is restored into `made`, not to be made again)."""
        saved = self.record.resources.get(name)
        if saved is None or saved.type != resource.get("Type") or saved.type in Provisioner.NAMED_ONLY:
            return False
        made.resolver.refs[name] = saved.ref
        made.resolver.attributes.update({(name, a): v for a, v in saved.attributes.items()})
        if name in self.record.clients:
            made.clients[name] = self.record.clients[name]
        if name in self.record.api_key_values:
            made.api_key_values[name] = self.record.api_key_values[name]
        if saved.type == "AWS::Cognito::UserPool":
            made.user_pool_id = saved.ref
        self.kept.append(name)
        if saved.properties != _digest(resource):
            self.changed.append(name)
        return True


def record_of(template: Template, made: Provisioned, kept: Kept | None) -> Record:
    """The resources provisioning made or kept; those of the last run that are no longer in the
    template stay recorded (and in moto), as a template change may bring them back."""
    record = Record(clients=dict(made.clients), api_key_values=dict(made.api_key_values))
    if kept is not None:
        record.resources.update(
            {n: r for n, r in kept.record.resources.items() if n not in template.resources}
        )
        record.clients = {**kept.record.clients, **record.clients}
        record.api_key_values = {**kept.record.api_key_values, **record.api_key_values}
    referenced = _referenced_attributes(template)
    for name in made.created:
        resource = template.resources[name]
        for attribute in referenced.get(name, ()):  # those read from moto's models when asked for
            with contextlib.suppress(Unresolvable):
                made.resolver.get_att(name, attribute)
        attributes = {a: v for (n, a), v in made.resolver.attributes.items() if n == name}
        ref = made.resolver.refs.get(name, name)
        record.resources[name] = SavedResource(resource["Type"], _digest(resource), ref, attributes)
    if kept is not None:
        record.resources.update({n: kept.record.resources[n] for n in kept.kept})
    return record


def _referenced_attributes(template: Template) -> dict[str, set[str]]:
    """Logical id -> the attributes the template reads of it (Fn::GetAtt, `${Name.Attribute}`), so that
    a kept resource's are recorded even where only moto's model could tell them."""
    found: dict[str, set[str]] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "Fn::GetAtt":
                    target = inner.split(".", 1) if isinstance(inner, str) else inner
                    if isinstance(target, list) and len(target) == 2:
                        logical_id, attribute = target
                        if isinstance(logical_id, str) and isinstance(attribute, str):
                            found.setdefault(logical_id, set()).add(attribute)
                elif key == "Fn::Sub":
                    text = inner[0] if isinstance(inner, list) and inner else inner
                    if isinstance(text, str):
                        for logical_id, attribute in _SUB_ATTRIBUTE.findall(text):
                            found.setdefault(logical_id, set()).add(attribute)
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(template.resources)
    walk(template.outputs)
    return found


_SUB_ATTRIBUTE = re.compile(r"\$\{([A-Za-z0-9]+)\.([A-Za-z0-9.]+)\}")


def template_changes(template: Template, made: Provisioned, kept: Kept, fresh_command: str) -> list[str]:
    """What the banner says of a template that changed since the state was saved (nothing if not)."""
    new = sorted(n for n in made.created if n not in kept.record.resources)
    gone = sorted(n for n in kept.record.resources if n not in template.resources)
    lines = []
    if new:
        lines.append(f"new in the template, created: {', '.join(new)}")
    if kept.changed:
        lines.append(
            f"changed in the template, kept as they were made (not updated; `{fresh_command}` makes "
            f"everything anew): {', '.join(sorted(kept.changed))}"
        )
    if gone:
        lines.append(f"no longer in the template, kept in the local AWS: {', '.join(gone)}")
    return lines


class StateStore:
    """One cloud's state folder: locked while the cloud runs, loaded at its start, saved as it runs
    and when it stops."""

    def __init__(self, directory: Path, fresh_command: str):
        self.directory = directory
        self.fresh_hint = f"start clean with `{fresh_command}`, which deletes it"
        self.path = directory / STATE_FILE
        self.key_path = directory / KEY_FILE
        self.restored_from: str | None = None  # when the state loaded at start was saved
        self.saved_at_stop = False
        self._lock_file: IO[str] | None = None
        self._aws: Any = None
        self._tokens: Any = None
        self._records: dict[str, Record] = {}
        self._saved = (-1, -1)  # (AWS writes, token changes) the last save holds
        self._saving = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._interval = SAVE_SECONDS
        self._failed = False
        self._left_out: set[str] = set()  # services whose state does not pickle (said once)
        self._sessions: Any = None  # the refresh tokens' sessions loaded, for the pool once it is built

    # ------------------------------------------------------------ start

    def open(self, *, fresh: bool) -> None:
        """Takes the folder (refusing one another cloud holds); `fresh` empties it first."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_file = (self.directory / _LOCK_FILE).open("a+")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "?"
            lock_file.close()
            raise SystemExit(
                f"{self.directory}: another local cloud (process {holder}) keeps its state here; stop it, "
                "or give this one another --port or --state DIR"
            ) from None
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        self._lock_file = lock_file
        if fresh:
            for path in (self.path, self.key_path):
                path.unlink(missing_ok=True)

    def load(self, main_stack: str) -> dict[str, Kept] | None:
        """The saved state put back into moto, and the record of what was made of each stack, by stack
        name; None when there is none. (`main_stack`: whose record a format-1 file holds.)

        A file this code cannot read ends the start with a message saying why and what to do."""
        if not self.path.exists():
            return None
        try:
            with self.path.open("rb") as file:
                magic, header_line, data = file.readline(), file.readline(), file.read()
            header = json.loads(header_line) if magic == _MAGIC else None
        except (OSError, ValueError) as error:
            raise SystemExit(f"{self.path}: cannot be read ({error}); {self.fresh_hint}") from None
        if not isinstance(header, dict):
            raise SystemExit(f"{self.path}: not a local cloud's state file, or damaged; {self.fresh_hint}")
        made_by = (header.get("format"), header.get("moto"))
        if made_by[0] not in _READABLE or made_by[1] != MOTO_VERSION:
            raise SystemExit(
                f"{self.path}: saved by another version of the local cloud (state format {made_by[0]}, "
                f"moto {made_by[1]}; this one reads format {FORMAT}, moto {MOTO_VERSION}); {self.fresh_hint}"
            )
        try:
            extra = snapshot.load(data)
            records = extra["records"] if made_by[0] == FORMAT else {main_stack: extra["record"]}
            sessions = extra["sessions"]
        except Exception as error:  # any unpickling failure: the file is damaged
            raise SystemExit(
                f"{self.path}: damaged, it cannot be loaded ({type(error).__name__}); {self.fresh_hint}"
            ) from None
        self.restored_from = str(header.get("saved_at", "?"))
        self._sessions = sessions
        return {name: Kept(record, self.restored_from) for name, record in records.items()}

    def attach(self, aws: Any, tokens: Any, records: dict[str, Record]) -> None:
        """What is to be saved: `aws`, the AWS APIs (sam_local_cloud/aws_apis/app.py); `tokens`, the pool's
        UserTokens or None, given back the refresh tokens loaded; `records`, what provisioning made of
        each stack, by stack name."""
        self._aws, self._tokens, self._records = aws, tokens, records
        if tokens is not None and self._sessions is not None:
            tokens.restore(*self._sessions)

    def start(self) -> None:
        """Saves a second after the start (the ids just made are kept from then on), on a thread of
        its own, then within a second of each write."""
        self._thread = threading.Thread(target=self._save_while_running, name="state", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ saving

    def _changes(self) -> tuple[int, int]:
        return (self._aws.writes, self._tokens.changes if self._tokens is not None else 0)

    def _save_while_running(self) -> None:
        # The first save a second after the start, not at once: a save holds the interpreter (pickle is
        # C code), and the banner and the first requests come first.
        interval = SAVE_SECONDS
        while not self._stopping.wait(interval):
            if self._changes() != self._saved:
                try:
                    self.save()
                except Exception as error:
                    if not self._failed:  # said once, not every second
                        console.say(f"state: cannot save to {self.path}: {type(error).__name__}: {error}")
                    self._failed = True
            interval = self._interval

    def save(self, *, final: bool = False) -> None:
        """The state as it is, with the AWS APIs paused meanwhile (for good when `final`)."""
        with self._saving:
            started = time.perf_counter()
            changes = self._changes()  # read before the copy: a change after it makes another save
            self._aws.pause()
            try:
                sessions = self._tokens.saved() if self._tokens is not None else ({}, set())
                changes = (self._aws.writes, changes[1])
                data, left_out = snapshot.dump({"records": self._records, "sessions": sessions})
            finally:
                if not final:
                    self._aws.resume()
            for service, reason in left_out.items():
                if service not in self._left_out:  # said once
                    console.say(f"state: {service} is not kept across restarts ({reason})")
            self._left_out |= set(left_out)
            self._write(data)
            self._saved = changes
            self._interval = max(SAVE_SECONDS, _SAVE_SHARE * (time.perf_counter() - started))

    def _write(self, data: bytes) -> None:
        header = {
            "format": FORMAT,
            "moto": MOTO_VERSION,
            "python": platform.python_version(),
            "saved_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        temporary = self.path.with_suffix(".tmp")
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
            file.write(_MAGIC + json.dumps(header).encode() + b"\n" + data)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(self.path)  # a reader, or a crash, never sees half a file
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)

    def close(self) -> None:
        """The last save, with the AWS APIs paused for good (nothing acknowledged after it is lost),
        then the folder let go."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            try:
                self.save(final=True)
                self.saved_at_stop = True
            except Exception as error:
                console.say(f"state: cannot save to {self.path}: {type(error).__name__}: {error}")
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None
