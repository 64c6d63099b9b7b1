"""What the stored predictions say: calibration, robustness, statistics, mistakes, maps."""
