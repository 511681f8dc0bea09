"""mlplab's Hydra sweeper for Optuna searches; Hydra finds it in the hydra_plugins namespace package."""
