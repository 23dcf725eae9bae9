"""Hostile input, one case per root cause of issue 19 plus variants (a package, so its conftest
and helpers never clash with the top-level test modules)."""
