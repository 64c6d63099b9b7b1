"""Training runs: the train loop, fine-tuning on cached features, the run lock and jobs."""
