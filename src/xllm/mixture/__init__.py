"""Instruction mixtures: recipes (YAML data) turned into one shuffled training file per model."""
