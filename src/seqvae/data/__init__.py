"""Data layer: alphabets, alignments, sequence weights and synthetic families."""
