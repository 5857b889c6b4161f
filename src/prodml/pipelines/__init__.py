"""Pipelines: Python functions declared as steps in one YAML file, run as one run with
a child run per step; a step cache that reruns only what changed; sweeps over the
config with Optuna's samplers; executors that run trials in local processes."""
