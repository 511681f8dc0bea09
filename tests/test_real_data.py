"""On the real Fashion-MNIST (marked real_data; skipped with a reason where it is not installed)."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from conftest import CONF, needs_real_data
from mlplab.config import register_configs
from mlplab.training import train


@pytest.mark.real_data
@pytest.mark.slow
@needs_real_data
@pytest.mark.parametrize("preset", ["chapter_scratch", "chapter_concise"])
def test_chapter_preset_reaches_080_test_accuracy_in_3_epochs(preset: str, tmp_path: Path) -> None:
    # Epoch 2 of the chapter's recipe swings between 0.77 and 0.81 across seeds (lr 0.5 oscillates);
    # epoch 3 is the first that clears 0.80 for every seed we measured.
    register_configs()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("train", overrides=[f"experiment={preset}", "trainer.max_epochs=3", f"output_dir={tmp_path}"])
    metrics = train(cfg)
    assert metrics["acc/test"] >= 0.80
    assert metrics["acc/test"] == pytest.approx(metrics["acc/val"]), "the chapter validates on the test set"
