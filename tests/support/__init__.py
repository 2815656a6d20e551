"""What the tests and benchmarks run against: private services started for them, never product code."""
