"""The outside world: an exchange, competing bidders and users with a known ground truth."""
