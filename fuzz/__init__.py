"""Coverage-guided fuzzing (atheris) of the decode path and of the route: `make fuzz`."""
