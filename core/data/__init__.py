"""CIFAR-10 (official files or the JPEG copy), augmentation, and decoding users' images."""
