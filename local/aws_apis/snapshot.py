"""moto's state as bytes and back: every service's backends, so the local AWS outlives a restart.

moto keeps each service's data in backend objects, one per account and region, held in the service's
BackendDict (a module global of moto, e.g. `moto.dynamodb.models.dynamodb_backends`). Those objects are
pickled whole, as they are (docs/decisions.md, "State across restarts"): what moto knows of a table,
a pool, a queue or a bucket is kept without a line written per resource type. Against moto 5.2.5 three
kinds of member do not pickle, and are made anew on loading instead:
- locks (`threading.Lock`, `RLock`: S3 keys, our ordered-scan index): a fresh, free one;
- the RSA key (joserfc) moto signs its own Cognito tokens with, which the local cloud never uses: the
  same key, from its JWK;
- the ordered-scan index of a table (local/aws_apis/ordered_scan.py), which a table rebuilds.

`dump` is called with the AWS APIs paused (`AwsApis.paused`), so a snapshot holds each call whole.
"""

from __future__ import annotations

import copyreg
import importlib
import io
import pickle
import sys
import threading
from collections.abc import Iterator
from typing import Any

from joserfc import jwk
from moto.core.base_backend import BackendDict

_LOCK = type(threading.Lock())
_RLOCK = type(threading.RLock())


class _Pickler(pickle.Pickler):
    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[_LOCK] = lambda _: (threading.Lock, ())
    dispatch_table[_RLOCK] = lambda _: (threading.RLock, ())
    dispatch_table[jwk.RSAKey] = lambda key: (jwk.RSAKey.import_key, (key.as_dict(private=True),))


def _named_backends() -> Iterator[tuple[str, str, BackendDict[Any]]]:
    """(module, global name, BackendDict) of every moto service in use, found where moto keeps it."""
    for backends in list(BackendDict._instances):  # type: ignore[misc]  # moto annotates it so
        module = sys.modules.get(backends.backend.__module__)
        name = next((k for k, v in vars(module).items() if v is backends), None) if module else None
        if module is not None and name is not None:
            yield module.__name__, name, backends


def dump(extra: Any) -> bytes:
    """Every backend of every service in use, and `extra` (the local cloud's own record), pickled."""
    backends = [
        (module, name, account, region, backend)
        for module, name, backend_dict in _named_backends()
        for account, region, backend in backend_dict.iter_backends()
    ]
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((backends, extra))
    return buffer.getvalue()


def load(data: bytes) -> Any:
    """Puts the pickled backends in place of moto's (before anything is created), and returns `extra`.

    Raises whatever unpickling raises on data that is not a snapshot of this moto: the caller says so.
    """
    backends, extra = pickle.loads(data)  # noqa: S301 - the local cloud's own file, in its own folder
    for module, name, account, region, backend in backends:
        live: BackendDict[Any] = getattr(importlib.import_module(module), name)
        live[account][region] = backend
    return extra
