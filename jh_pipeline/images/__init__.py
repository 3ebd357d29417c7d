"""Where the class image is built and checked: build context, Docker engine and registry, smoke checks."""
