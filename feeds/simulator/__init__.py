"""The simulated city feed."""
