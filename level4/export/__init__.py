"""`level4 export`: a journal replayed into Parquet research datasets (README.org, Export)."""
