"""Click and conversion models: feature spec, training, evaluation, export, scorer."""
