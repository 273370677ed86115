"""Everything the commands show in a terminal: stage lines and notices (stages), library noise off (quiet), the
training table (training), the summary a run ends with (summary), `trainer predict`'s table (predict_table), the demo
predictions `trainer train` ends with (train_examples) and `trainer compare`'s table (compare_table).

Library code reports plain events (dicts) and returns results; this package turns them into text. It imports
neither transformers nor torch at module level (pyproject.toml [tool.importlinter])."""
