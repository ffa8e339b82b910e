"""The fairer yardstick: bench/bare_handler.py with the functions' garbage-collection treatment.

As product_api/__init__.py and rest.lambda_handler_for do: pause collection before any other
import, then freeze what import made and resume once the handler is built. Set against this, a
function's ratio shows what Powertools and the app cost, not what pausing the collector saved.
"""

import gc

gc.disable()

from bare_handler import lambda_handler  # noqa: E402

gc.freeze()
gc.enable()

__all__ = ["lambda_handler"]
