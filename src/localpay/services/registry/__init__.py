"""The merchant registry: applications, approval, suspension, eligibility per program."""
