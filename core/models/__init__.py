"""The model families: the registry's descriptions and the Keras builders."""
