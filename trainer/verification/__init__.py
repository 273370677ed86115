"""Checks of the product that scripts and tests share (kill_resume: kill a training run, resume it, compare).
The top layer: it may drive the CLI; nothing in trainer imports it."""
