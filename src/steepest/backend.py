"""The array library that runs the numbers.

Every other module takes its array module from here (``from steepest.backend
import xp``), so that running on another array library (CuPy on a GPU, say)
is one switch in this file.
"""

from __future__ import annotations

import numpy

__all__ = ["xp", "DEFAULT_FLOAT"]

#: The array module.
xp = numpy

#: The dtype of floating tensors made without an explicit dtype.
DEFAULT_FLOAT = numpy.dtype(numpy.float32)
