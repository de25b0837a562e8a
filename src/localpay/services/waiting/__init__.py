"""The fair waiting room of sale openings."""
