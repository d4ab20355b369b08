"""Developer tools that check and build what the pipeline shows; not pipeline stages.

DVC runs none of them and dvc.yaml names none of them: a developer or CI runs each one by hand, as
`python -m tools.<name>` (each takes --help).
"""
