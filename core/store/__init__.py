"""What a trained model leaves in ``artifacts/<model>/``: files, metrics, model card, test
images."""
