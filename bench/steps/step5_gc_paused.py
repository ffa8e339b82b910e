"""Step 5 of `--steps`: step 4, with garbage collection paused while it is imported.

As the functions do (product_api/cold_start.py, called first in each handler module and by
rest.lambda_handler_for): pause before any other import, then freeze what import made and resume
once the handler is built.
"""

import gc

gc.disable()

from step4_jsonschema import lambda_handler  # noqa: E402

gc.freeze()
gc.enable()

__all__ = ["lambda_handler"]
