"""The fairer yardstick: bench/bare_handler.py with the functions' garbage-collection treatment.

As the functions do (product_api/cold_start.py, called first in each handler module and by
rest.lambda_handler_for): pause collection before any other import, then freeze what import made
and resume once the handler is built. Set against this, a
function's ratio shows what Powertools and the app cost, not what pausing the collector saved.
"""

import gc

gc.disable()

from bare_handler import lambda_handler  # noqa: E402

gc.freeze()
gc.enable()

__all__ = ["lambda_handler"]
