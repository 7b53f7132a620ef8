"""Analysis stage and the statistics every stage shares."""
