"""Labs: experiments that show why training behaves as it does.

Each lab is a function that runs one experiment from its seed, returns its
numbers as a dataclass, and writes its figures (PNG, GIF where motion helps)
and the CSV behind each through :mod:`steepest.plots`. Each is also a
``steepest`` sub-command of the same name.

- :func:`compare`: several optimizers and schedules on one model and seed.
- :func:`paths`: optimizer trajectories on 2-D test functions.
- :func:`landscape`: the loss surface around a trained model.
- :func:`capacity`: under/overfitting, L2, and double descent.
- :func:`diagnose` / :class:`Diagnostics`: gradient norms, update ratios,
  effective learning rates over training.
- :func:`estimators`: the bias of the variance estimators, simulated.

The names ``steepest.labs.compare`` and so on are the functions; the modules
behind them stay importable as ``from steepest.labs.compare import ...``.
"""

from steepest.labs.capacity import CapacityResult, capacity
from steepest.labs.compare import CompareResult, compare
from steepest.labs.diagnose import DiagnoseResult, Diagnostics, diagnose
from steepest.labs.estimators import EstimatorsResult, estimators
from steepest.labs.landscape import LandscapeResult, landscape
from steepest.labs.paths import PathsResult, paths

__all__ = [
    "CapacityResult",
    "CompareResult",
    "DiagnoseResult",
    "Diagnostics",
    "EstimatorsResult",
    "LandscapeResult",
    "PathsResult",
    "capacity",
    "compare",
    "diagnose",
    "estimators",
    "landscape",
    "paths",
]
