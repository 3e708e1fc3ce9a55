"""Thin bridges between chat platforms and the engine: they translate, they hold no conversation logic."""
