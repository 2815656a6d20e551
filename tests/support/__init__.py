"""Support code the tests and the bench scripts share."""
