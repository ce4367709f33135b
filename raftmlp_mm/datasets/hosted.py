"""Registers every host-built dataset and batch augment whose host is installed.

The registries of raftmlp_mm/registry.py name this module as their location, so MMEngine imports
it the first time a config looks up one of our datasets or batch augments.
"""
import importlib

from . import AVAILABLE

for _module in sorted(set(AVAILABLE.values())):
    importlib.import_module(f'.{_module}', __package__)
