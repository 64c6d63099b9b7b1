"""Answering users' images: the predictor, its batching worker, the predict command."""
