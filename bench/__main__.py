"""`make bench`: run every benchmark module that exists, one after another."""

from __future__ import annotations

import importlib
import importlib.util
import sys

BENCHMARKS = (
    "bench.bus_bench",
    "bench.marketdata_bench",
    "bench.backtest_bench",
    "bench.tick_to_order_bench",
)


def main() -> int:
    """Run each available benchmark's `main()`; a missing one is listed, not an error."""
    selected = [b for b in BENCHMARKS if not sys.argv[1:] or any(a in b for a in sys.argv[1:])]
    for name in selected:
        if importlib.util.find_spec(name) is None:
            print(f"== {name}: not present yet")
            continue
        print(f"== {name}", flush=True)
        importlib.import_module(name).main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
