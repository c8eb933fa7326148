"""Config -> plan: the grid of models a config describes, and what each job depends on."""

from .grid import Grid, alpaca_file
from .jobs import Jobs, settings_json, train_launch

__all__ = ["Grid", "Jobs", "alpaca_file", "settings_json", "train_launch"]
