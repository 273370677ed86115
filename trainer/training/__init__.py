"""Training a run: its data (dataset, label spaces), its directory (staged, then swapped in), the fit."""
