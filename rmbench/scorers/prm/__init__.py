"""Process reward models: per-step scores of a multi-step solution, aggregated to one reward."""
