"""Read models of the city console: programs, budgets, where a version applies."""
