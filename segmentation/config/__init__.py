"""Configuration: the params YAML parsed once into typed objects, the segment rules' score cube, the input schema."""
