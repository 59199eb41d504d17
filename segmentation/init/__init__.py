"""`python -m segmentation init FILE`: read a sample of a store's own export, guess what its columns hold and how
they are written, and write a commented params file to start from.

sniff.py reads the sample (separator, header, the values as text), values.py tells dates and numbers from text,
guess.py maps columns to the pipeline's fields, params_file.py writes the YAML, command.py ties them together
and words what was guessed.
"""
