"""Runs: read inputs, compute, draw and write every output of a command."""
