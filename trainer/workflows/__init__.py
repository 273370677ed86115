"""Whole jobs made of the layers below: a training run's lifecycle, a sweep, config validation."""
