"""The mart: read the store's data, review it, and publish one customer table with RFM scores and segments.

I/O modules any stage may use: `load` (read the input), `engine` (connect DuckDB or Spark), `store` (the mart
folder: file names, manifest, publishing, reading). The stages, in flow order; each imports only earlier ones:

    quality / orders → ids → rfm → scores → segments → countries → summary → insights → premium

`pipeline` runs them end to end.
"""
