"""moto's state as bytes and back: every service's backends, so the local AWS outlives a restart.

moto keeps each service's data in backend objects, one per account and region, held in the service's
BackendDict (a module global of moto, e.g. `moto.dynamodb.models.dynamodb_backends`). Those objects are
pickled whole, as they are (docs/decisions.md, "State across restarts"): what moto knows of a table,
a pool, a queue or a bucket is kept without a line written per resource type. Against moto 5.2.5 a
few kinds of member do not pickle, and are pickled as what makes them again instead:
- locks (`threading.Lock`, `RLock`: S3 keys...): a fresh, free one;
- private keys (cryptography's RSA, EC and Ed25519: KMS keys, the key moto signs its own Cognito
  tokens with), and joserfc's RSA keys around them: their PEM or JWK;
- a defaultdict whose factory is a lambda (SSM's tags): one with the same factory, spelled out; and
  one of a subclass whose __init__ takes other arguments (SSM's parameters): made without calling it;
- a WeakValueDictionary (moto's Lambda): one holding the same values;
- the ordered-scan index of a table (sam_local_cloud/aws_apis/ordered_scan.py), which a table rebuilds.
A backend that still will not pickle is left out of the snapshot, and `dump` names it.

`dump` is called with the AWS APIs paused (`AwsApis.pause`), so a snapshot holds each call whole.
"""

from __future__ import annotations

import collections
import copyreg
import functools
import importlib
import io
import pickle
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives import serialization
from joserfc import jwk
from moto.core.base_backend import BackendDict


def _private_key(key: Any) -> tuple[Any, ...]:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return (_load_private_key, (pem,))


def _load_private_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, None)  # pickle cannot name this builtin itself


def _unnamed(factory: Any) -> bool:
    """A lambda or a local function, which pickle cannot name."""
    return factory is not None and "<" in getattr(factory, "__qualname__", "")


def _named_factory(factory: Any) -> Any:
    """A factory pickle can name that makes what `factory` makes (moto's `lambda: defaultdict(dict)`)."""
    if not _unnamed(factory):
        return factory
    made = factory()
    if type(made) is collections.defaultdict and not _unnamed(made.default_factory):
        return functools.partial(collections.defaultdict, made.default_factory)
    return type(made) if type(made) in (dict, list, set, int, str) else factory


def _defaultdict(mapping: collections.defaultdict[Any, Any]) -> Any:
    factory = _named_factory(mapping.default_factory)
    return (collections.defaultdict, (factory,), None, None, iter(mapping.items()))


def _new_defaultdict(cls: Any, factory: Any) -> Any:
    made = cls.__new__(cls)
    collections.defaultdict.__init__(made, factory)
    return made


def _defaultdict_subclass(mapping: Any) -> Any:
    """A subclass whose __init__ takes other arguments (SSM's ParameterDict): made without calling it."""
    state = getattr(mapping, "__dict__", None) or None
    factory = _named_factory(mapping.default_factory)
    return (_new_defaultdict, (type(mapping), factory), state, None, iter(mapping.items()))


def _subclasses(cls: type[Any]) -> Iterator[type[Any]]:
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


class _Pickler(pickle.Pickler):
    dispatch_table: dict[type, Callable[[Any], Any]] = copyreg.dispatch_table.copy()
    dispatch_table[type(threading.Lock())] = lambda _: (threading.Lock, ())
    dispatch_table[type(threading.RLock())] = lambda _: (threading.RLock, ())
    dispatch_table[jwk.RSAKey] = lambda key: (jwk.RSAKey.import_key, (key.as_dict(private=True),))
    dispatch_table[collections.defaultdict] = _defaultdict
    dispatch_table[weakref.WeakValueDictionary] = lambda d: (weakref.WeakValueDictionary, (dict(d),))
    for _key_type in (
        rust_openssl.rsa.RSAPrivateKey,
        rust_openssl.ec.ECPrivateKey,
        rust_openssl.ed25519.Ed25519PrivateKey,
    ):
        dispatch_table[_key_type] = _private_key

    def __init__(self, file: Any) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        # The defaultdict subclasses loaded by now (moto's are loaded with their service).
        for subclass in _subclasses(collections.defaultdict):
            if subclass not in self.dispatch_table and subclass.__module__.startswith("moto."):
                self.dispatch_table[subclass] = _defaultdict_subclass


def _named_backends() -> Iterator[tuple[str, str, BackendDict[Any]]]:
    """(module, global name, BackendDict) of every moto service in use, found where moto keeps it."""
    for backends in list(BackendDict._instances):  # type: ignore[misc]  # moto annotates it so
        module = sys.modules.get(backends.backend.__module__)
        name = next((k for k, v in vars(module).items() if v is backends), None) if module else None
        if module is not None and name is not None:
            yield module.__name__, name, backends


def _pickled(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer).dump(value)
    return buffer.getvalue()


def dump(extra: Any) -> tuple[bytes, dict[str, str]]:
    """Every backend of every service in use, and `extra` (the local cloud's own record), pickled;
    and the services left out, each with the reason (none, as far as moto 5.2.5's are tested)."""
    backends = [
        (module, name, account, region, backend)
        for module, name, backend_dict in _named_backends()
        for account, region, backend in backend_dict.iter_backends()
    ]
    try:
        return _pickled((backends, extra)), {}
    except Exception:
        left_out: dict[str, str] = {}
        for entry in backends:
            try:
                _pickled(entry[-1])
            except Exception as error:
                left_out[entry[-1].__class__.__module__.split(".")[1]] = f"{type(error).__name__}: {error}"
        kept = [entry for entry in backends if entry[-1].__class__.__module__.split(".")[1] not in left_out]
        return _pickled((kept, extra)), left_out


def load(data: bytes) -> Any:
    """Puts the pickled backends in place of moto's (before anything is created), and returns `extra`.

    Raises whatever unpickling raises on data that is not a snapshot of this moto: the caller says so.
    """
    backends, extra = pickle.loads(data)  # noqa: S301 - the local cloud's own file, in its own folder
    for module, name, account, region, backend in backends:
        live: BackendDict[Any] = getattr(importlib.import_module(module), name)
        live[account][region] = backend
    return extra
