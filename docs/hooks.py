"""MkDocs hook: publish the committed benchmark chart (bench/results/latest.png) with the site.

The chart lives with the benchmark that writes it; the performance page shows it from
`assets/bench-latest.png` without a second copy in the repository going stale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

CHART = Path(__file__).resolve().parents[1] / "bench" / "results" / "latest.png"


def on_files(files: Files, config: Any) -> Files:
    files.append(File.generated(config, "assets/bench-latest.png", abs_src_path=str(CHART)))
    return files
