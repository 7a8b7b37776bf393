"""The scale benchmark (`make bench`, `bench/run.py`): not part of the test suite."""
