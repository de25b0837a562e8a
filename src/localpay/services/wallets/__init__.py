"""What a citizen's wallet pages show, derived from the chain's views (pure)."""
