"""Unit tests pinning what lands in the warehouse (issue 28): each kills mutants of
the modules `make mutate` tests (tests/MUTANTS.md)."""
