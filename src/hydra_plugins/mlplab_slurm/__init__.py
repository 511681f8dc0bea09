"""mlplab's SLURM launcher (hydra-submitit-launcher's, made to report); Hydra finds it in hydra_plugins."""
