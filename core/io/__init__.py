"""Files written atomically and the training progress log: what every other layer builds on."""
