"""The model catalogue (data in model_specs.toml, loader in model_spec.py)."""
