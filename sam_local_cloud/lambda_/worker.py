"""One function's execution environment: a long-lived process that imports the handler once.

Started by sam_local_cloud/lambda_/runner.py as a script (not `-m`), so that the function's code directory,
not the project root, is first on sys.path, and with the function's environment already set, so that
module-level code sees it at import time, as in Lambda. Standard library only.

Protocol: one JSON request per line on stdin. Everything comes back on stderr, in order: the handler's
own stdout and stderr (Lambda sends both to the function's logs), a marker line once the handler is
imported, and for each invocation a marker line with its reply, which closes its logs. One stream
written once per invocation wakes the local cloud once per invocation (docs/performance.md).
"""

import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import time
import traceback

INITIALIZED_MARKER = "\x1elocal-initialized"
LOG_MARKER = "\x1elocal-invocation-end "  # then the request id, a space and the reply's JSON
# Lambda's limit on a synchronous invocation's response (docs/aws-behaviour.md §2): 6 MB.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
RESULT_REPLY = '{{"ok": true, "result": {}}}'


class LambdaContext:
    """The context object the Python runtime passes to handlers."""

    def __init__(self, request_id, invoked_function_arn, deadline_ms):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def load_handler(spec):
    module_name, _, function_name = spec.rpartition(".")
    # A handler written as a path (src/api/items.handler) names a module of the code folder, as Lambda's
    # Python runtime (awslambdaric's bootstrap) reads it.
    return getattr(importlib.import_module(module_name.replace("/", ".")), function_name)


def error_reply(label, error, kind="function"):
    """A failed invocation: `kind` is "function" (the handler's own error) or "init" (it did not load)."""
    print(f"[ERROR] {label}: {type(error).__name__}: {error}", file=sys.stderr)
    traceback.print_exc()
    return {"ok": False, "kind": kind, "errorType": type(error).__name__, "errorMessage": str(error)}


def invoke(handler, request):
    # Lambda's Python runtime sets the trace header in the environment for each invocation.
    os.environ["_X_AMZN_TRACE_ID"] = request["traceId"]
    context = LambdaContext(request["requestId"], request["invokedFunctionArn"], request["deadlineMs"])
    try:
        result = handler(request["event"], context)
    except Exception as error:
        return error_reply("Unhandled exception", error)
    try:
        text = json.dumps(result)
    except (TypeError, ValueError) as error:
        return error_reply("Runtime.MarshalError", error)
    if len(text.encode()) > MAX_RESPONSE_BYTES:
        message = f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
        print(f"[ERROR] Function.ResponseSizeTooLarge: {message}", file=sys.stderr)
        too_large = "Function.ResponseSizeTooLarge"
        return {"ok": False, "kind": "too_large", "errorType": too_large, "errorMessage": message}
    return RESULT_REPLY.format(text)  # the result's JSON as it is: not parsed and written again


def route_public_hosts(routes):
    """Resolve each of AWS's host names in `routes` (`host=127.0.0.1:port,...`) to the local cloud's port
    that answers for it over TLS (sam_local_cloud/cognito/public_host.py); any other name as usual. Every HTTP
    client asks `socket.getaddrinfo` where a host is, so each reaches it unchanged."""
    table = {}
    for route in filter(None, routes.split(",")):
        name, _, address = route.partition("=")
        host, _, port = address.rpartition(":")
        table[name.lower()] = (host, int(port))
    if not table:
        return
    resolve = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        local = table.get(host.lower()) if isinstance(host, str) and str(port) in ("443", "https") else None
        return resolve(*local, *args, **kwargs) if local else resolve(host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def end_logs():
    """What the handler printed is written before its marker (whatever it made of sys.stdout/stderr)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):  # closed, or not a stream
            stream.flush()


def main():
    handler_spec, code_dir, more_paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    # The local cloud's own variable: used here, and not part of the function's environment.
    route_public_hosts(os.environ.pop("_LOCAL_CLOUD_HOSTS", ""))
    # Ctrl-C reaches the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.dup2(2, 1)  # print() goes to the log stream
    # The markers go through a file of the worker's own on that stream: a handler that replaces
    # sys.stderr (or closes it) cannot take its replies away.
    markers = os.fdopen(os.dup(2), "w", encoding="utf-8")
    # The code first, then what Lambda puts after it: the function's dependencies, its layers' /opt/python.
    sys.path[0:1] = [code_dir, *more_paths]

    handler, init_error = None, None
    try:
        handler = load_handler(handler_spec)
    except Exception as error:  # Lambda reports init failures on the first invocation
        init_error = {**error_reply("Runtime.ImportModuleError", error, kind="init")}
    end_logs()
    markers.write(INITIALIZED_MARKER + "\n")  # the invocation's clock starts now
    markers.flush()

    for line in sys.stdin:
        request = json.loads(line)
        reply = init_error or invoke(handler, request)
        end_logs()
        text = reply if isinstance(reply, str) else json.dumps(reply)
        markers.write(f"{LOG_MARKER}{request['requestId']} {text}\n")  # one write
        markers.flush()
        if init_error:
            return  # the next invocation starts a fresh environment, as Lambda retries init


if __name__ == "__main__":
    main()
