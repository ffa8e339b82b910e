"""product-api: Lambda code behind the REST API (thin handlers over logic over data access).

Cold start: importing a handler builds some 600 modules' long-lived objects, and the cyclic garbage
collector would walk them again and again meanwhile, for nothing (about 25 ms of each function's
init: docs/performance.md). So collection pauses here, the first thing a handler's import runs,
until `resume_garbage_collection()` once the handler is built (`rest.lambda_handler_for`).
"""

import gc

gc.disable()


def resume_garbage_collection() -> None:
    """Collect again, leaving out what import made: it lives as long as the process. Once only."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
