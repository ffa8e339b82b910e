"""What every function does around its cold start: garbage collection paused while it is built.

Importing a handler builds some 600 modules' long-lived objects, and the cyclic garbage collector
would walk them again and again meanwhile, for nothing: about 25 ms of each function's init
(docs/performance.md, "Cold start"). So each handler module calls `pause_garbage_collection()` as its
first statement, before its other imports, and `resume_garbage_collection()` once it is built
(`rest.lambda_handler_for` does for the API's handlers).

Standard library only, so that importing it costs nothing before the pause.
"""

import gc


def pause_garbage_collection() -> None:
    """No collection until `resume_garbage_collection()`: the first thing a handler module runs."""
    gc.disable()


def resume_garbage_collection() -> None:
    """Collect again, leaving out what import made: it lives as long as the process. Once only."""
    if not gc.isenabled():
        # Without freeze, the first collection after enable walks everything import made.
        gc.freeze()
        gc.enable()
