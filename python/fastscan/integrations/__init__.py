"""fastscan inside pipelines users already run: `fastscan.integrations.datatrove`.

(For Ray Data, Spark and Hugging Face ``datasets`` see `fastscan.BatchScorer`.)
"""
