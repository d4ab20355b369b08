"""The datasets: their definitions, raw IDX files, downloads and the prepared splits."""
