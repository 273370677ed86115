"""Readers, labellers and the dataset builder."""
