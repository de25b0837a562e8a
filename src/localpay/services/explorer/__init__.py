"""The public explorer's figures: supply over time and payment aggregates, from the chain."""
