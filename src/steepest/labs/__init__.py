"""Labs: experiments built on the training loop, each returning its data and
writing its figures through :mod:`steepest.plots`."""
