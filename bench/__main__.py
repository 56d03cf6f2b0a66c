"""`make bench`: run every benchmark module that exists, one after another."""

from __future__ import annotations

import importlib
import importlib.util
import sys

BENCHMARKS = (
    "bench.bus_bench",
    "bench.marketdata_bench",
    "bench.strategy_bench",
    "bench.backtest_bench",
    "bench.tick_to_order_bench",
)


def main() -> int:
    """Run each available benchmark's `main()`; a missing one is listed, not an error. A
    benchmark whose `main()` returns non-zero (it measured nothing) fails the run, after the rest."""
    selected = [b for b in BENCHMARKS if not sys.argv[1:] or any(a in b for a in sys.argv[1:])]
    failed = []
    for name in selected:
        if importlib.util.find_spec(name) is None:
            print(f"== {name}: not present yet")
            continue
        print(f"== {name}", flush=True)
        if importlib.import_module(name).main():
            failed.append(name)
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
