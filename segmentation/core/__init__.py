"""The base layer: errors, all-or-nothing publishing, stop signals and exact statistics. Imports nothing above it."""
