"""What every stage and command shares: errors, paths, atomic files, params, the formats of saved results,
and the runners of stages and commands."""
