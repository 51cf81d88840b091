"""Console scripts (`tsm-*`); each module has a usage line and a short `main`."""
