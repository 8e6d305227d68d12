"""Asset definitions, one module per part of the platform they drive."""
