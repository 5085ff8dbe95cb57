"""Imported first by the scripts here, so that they measure this checkout's filmcolor, not the installed one.

`python scripts/X.py` puts scripts/ first on sys.path, not the checkout, so `import filmcolor` found the
installed package: another checkout's, when the scripts of a worktree ran (an audit: a benchmark run there
measured the main tree). The installed package's finder comes after sys.path.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path[:1] != [str(ROOT)]:
    sys.path.insert(0, str(ROOT))
