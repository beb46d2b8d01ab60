"""Tests of streams.cli."""
