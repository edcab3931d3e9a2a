"""Applying results to the scene: the only code that builds datablocks from backend output."""
