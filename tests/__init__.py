"""Tests of analytics-async."""
