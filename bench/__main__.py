"""make bench: every benchmark, one after the other. Each prints its own figures and ratios."""

import sys

from bench import cold_start, load, local_cloud


def main() -> int:
    status = 0
    for bench in (cold_start, local_cloud, load):
        print(f"\n=== {bench.__name__} ===", flush=True)
        status |= bench.main()
    return status


if __name__ == "__main__":
    sys.exit(main())
