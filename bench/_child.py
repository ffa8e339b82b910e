"""One cold start, run by bench/cold_start.py in a fresh interpreter of the Lambda-like venv.

Usage: python -P _child.py RESULT_FD  (the spec comes as JSON on stdin)

Like the Lambda runtime's bootstrap, it puts the code directory first on sys.path, imports the
handler module and calls the handler once with the event and a Lambda context. It reports, on
RESULT_FD, the time from just before the import to the end of that first invocation, split into
its two parts, and the process's peak RSS. Nothing is subtracted. The handler's own stdout (logs,
metrics) goes to the parent, which checks that it is there.

Standard library only: gc, json, os, sys and time, which the runtime bootstrap has imported before
any handler, and the tiny resource module.
"""

import time

_PROCESS_START = time.perf_counter()

import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402


class LambdaContext:
    """The attributes Powertools reads from the runtime's context object."""

    def __init__(self, spec):
        self.function_name = spec["function_name"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = spec["memory_mb"]
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ['AWS_REGION']}:123456789012:function:{self.function_name}"
        )
        self.aws_request_id = spec["request_id"]
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + spec["timeout_s"]

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def peak_rss_kib():
    """The process's peak RSS (KiB): VmHWM, the high-water mark of this program's memory.

    Not ru_maxrss: on Linux that survives fork and exec, so a child reports at least its
    parent's peak (the benchmark's own process, ~70 MiB) whatever it does itself.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


_gc_runs = 0


def _count_gc(phase, info):
    global _gc_runs
    if phase == "start":
        _gc_runs += 1


def main():
    result_fd = int(sys.argv[1])
    spec = json.loads(sys.stdin.read())
    sys.path.insert(0, spec["code_dir"])
    module_name, _, function_name = spec["handler"].rpartition(".")
    context = LambdaContext(spec)

    gc.callbacks.append(_count_gc)
    c0 = time.process_time()
    t0 = time.perf_counter()
    module = __import__(module_name, fromlist=[function_name])
    handler = getattr(module, function_name)
    t1 = time.perf_counter()
    response = handler(spec["event"], context)
    t2 = time.perf_counter()
    c2 = time.process_time()

    peak = peak_rss_kib()
    status = response.get("statusCode") if isinstance(response, dict) else None
    if isinstance(response, dict) and "triggerSource" in response:  # a Cognito trigger: no HTTP status
        status = "answered" if (response.get("response") or {}).get("claimsAndScopeOverrideDetails") else None
    result = {
        "startup_ms": (t0 - _PROCESS_START) * 1000,
        "import_ms": (t1 - t0) * 1000,
        "invoke_ms": (t2 - t1) * 1000,
        "init_ms": (t2 - t0) * 1000,
        "init_cpu_ms": (c2 - c0) * 1000,
        "peak_rss_kib": peak,
        "status": status,
        "modules": len(sys.modules),
        "gc_runs": _gc_runs,
    }
    sys.stdout.flush()
    with os.fdopen(result_fd, "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
