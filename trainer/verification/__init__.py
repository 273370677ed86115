"""Checks of the product that scripts and tests share: kill_resume (kill a training run, resume it, compare with
the uninterrupted one), serve_page (drive `trainer serve`'s page in a headless browser).
The top layer: it may drive the CLI; nothing in trainer imports it."""
