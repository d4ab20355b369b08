"""What a run shows: its figures, and the params that shape them."""
