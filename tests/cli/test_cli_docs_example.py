"""The strategy printed in docs/strategies.md is real: it loads from a file and backtests as shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from services.cli.main import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "strategies.md"


def test_the_documented_strategy_backtests_from_its_own_file(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert blocks, "docs/strategies.md lost its example"
    path = tmp_path / "momentum.py"
    path.write_text(blocks[0])
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "--strategy",
            f"{path}:Momentum",
            "--synthetic",
            "--bars",
            "1500",
            "--param",
            "product_id=BTC-USD",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["num_trades"] > 0
    assert summary["config"]["base_increment"] == "0.00000001"  # exact, never exponent notation
