"""``bdnn select``: validation-driven model selection over a grid, run on Dask."""
