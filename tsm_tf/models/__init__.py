"""TSM models: the configuration they share, the clip and online classifiers, their builders."""
