"""The benchmarks measure what they say: update_path.py times four ways of the same updates, bench.py pairs repeats."""

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from conftest import ROOT, tiny_overrides
from mlplab.training import train

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench  # noqa: E402
import update_path  # noqa: E402


@pytest.mark.parametrize("experiment", ["chapter_concise", "chapter_scratch", "fast"])
def test_update_path_times_four_ways_of_making_the_very_same_updates(
    make_cfg: Callable[..., DictConfig], fake_data: Path, tmp_path: Path, experiment: str
) -> None:
    """Only Lightning's calls differ between the ways: the weights end as an ordinary run's do."""
    # 1000 training images in batches of 64 and groups of 2: 8 steps an epoch, each way 2 of them.
    overrides = [f"experiment={experiment}", "data.val_size=200", "data.batches_per_step=2", "trainer.max_epochs=3"]
    turns = update_path.run([*tiny_overrides(fake_data, tmp_path / "turns"), *overrides])
    train(make_cfg(*overrides))
    ordinary = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]

    for name, weights in ordinary.items():
        torch.testing.assert_close(turns.state_dict()[name], weights, rtol=0, atol=0, msg=name)
    seconds = update_path.medians(turns)
    assert set(seconds) == set(update_path.WAYS)
    assert all(0 < s < 1 for s in seconds.values()), seconds
    assert all(len(turns.seconds[way]) == 3 * 2 for way in update_path.WAYS)


def test_bench_ratio_range_pairs_each_run_with_the_floors_run_of_the_same_repeat() -> None:
    Run = bench.Run
    floors = [Run(4.0, 0.0, [9.0, 0.5, 0.4, 0.6]), Run(8.0, 0.0, [9.0, 1.0, 1.0, 1.0]), Run(2.0, 0.0, [9.0, 2.0, 2.0])]
    runs = [Run(5.0, 0.0, [9.0, 0.6, 0.5, 0.7]), Run(8.8, 0.0, [9.0, 1.0, 1.2, 1.1]), Run(3.0, 0.0, [9.0, 3.0, 2.0])]
    # Epoch medians skip the first epoch: 0.6 / 0.5, 1.1 / 1.0 and 2.5 / 2.0; walls 5 / 4, 8.8 / 8 and 3 / 2.
    assert bench.ratio_range(runs, floors, bench.epoch_time) == "1.10 / 1.20 / 1.25x"
    assert bench.ratio_range(runs, floors, bench.wall_time) == "1.10 / 1.25 / 1.50x"


def test_bench_writes_its_table_between_the_pages_markers_and_keeps_the_rest(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text(f"# Performance\nbefore\n{bench.PAGE_START}\nold table\n{bench.PAGE_END}\nafter\n")
    bench.write_into_page(page, "| new | table |\n")
    assert page.read_text() == f"# Performance\nbefore\n{bench.PAGE_START}\n| new | table |\n{bench.PAGE_END}\nafter\n"
    bench.write_into_page(page, "| newer |\n")
    assert "| new | table |" not in page.read_text() and "| newer |" in page.read_text()


def test_the_performance_page_holds_the_markers_bench_writes_between() -> None:
    text = (ROOT / "docs" / "performance.md").read_text()
    assert text.count(bench.PAGE_START) == 1 and text.count(bench.PAGE_END) == 1
