"""Fixtures for the firmware tests."""
