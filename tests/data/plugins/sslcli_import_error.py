"""Fixture: a plugin whose import raises."""

raise RuntimeError("this plugin is broken on purpose")
