"""What the tests and the bench scripts share: private services started for them and degraded audio to test with; never product code."""
