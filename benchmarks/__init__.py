"""Runnable scripts that print figures; run by hand, never part of the test run."""
