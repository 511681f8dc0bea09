"""Data sets as a config group: each is one YAML file (conf/data/) plus its IDX files, here generated."""

from pathlib import Path

import pytest
import yaml

from conftest import compose_tiny, make_fake_fashion_mnist
from mlplab.training import train
from processes import command_line_answer, main_of

MNIST_CLASSES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.mark.parametrize(("data_set", "name", "first_class"), [("mnist", "MNIST", "zero"), ("kmnist", "KMNIST", "o")])
def test_a_data_set_of_the_mnist_family_trains_and_eval_names_its_classes(
    fake_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], data_set: str, name: str, first_class: str
) -> None:
    cfg = compose_tiny(fake_data, tmp_path / "run", f"data={data_set}")  # MNIST's files: the same names and layout
    metrics = train(cfg)
    assert 0.75 < metrics["acc/test"] <= 0.85
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["data"]["name"] == name and config["data"]["classes"][0] == first_class
    assert (config["model"]["num_inputs"], config["model"]["num_classes"]) == (784, 10)
    code, out, err = main_of("eval.py", tmp_path / "run", capsys=capsys)
    assert code == 0, err
    assert out.splitlines()[0].split() == [first_class, out.splitlines()[0].split()[1]], out
    assert f"| {first_class} |" in (tmp_path / "run" / "eval" / "last" / "per_class_accuracy.md").read_text()


def test_mnist_files_are_checked_against_the_published_checksums_in_data_json(fake_data: Path, tmp_path: Path) -> None:
    train(compose_tiny(fake_data, tmp_path / "run", "data=mnist", "trainer.max_epochs=1"))
    record = yaml.safe_load((tmp_path / "run" / "data.json").read_text())
    assert {entry["same_bytes_as_published"] for entry in record.values()} == {False}, "generated: not MNIST's own"


def test_a_new_data_set_is_one_yaml_file_and_the_model_follows_its_shape(tmp_path: Path) -> None:
    """Three classes of 16x16 images: the YAML says so, and the models' inputs and outputs follow."""
    extra = tmp_path / "conf" / "data"
    extra.mkdir(parents=True)
    (extra / "stripes.yaml").write_text(
        "defaults:\n  - fashion_mnist\n  - _self_\n\n"
        "name: Stripes\nclasses: [low, middle, high]\nimage_size: [16, 16]\ntorchvision_dataset: null\n"
        "system_dir: null\npublished_md5: {}\n"
    )
    data = make_fake_fashion_mnist(tmp_path / "stripes", n_train=900, n_test=300, classes=3, size=16)
    search_path = f"hydra.searchpath=[file://{tmp_path / 'conf'}]"
    cfg = compose_tiny(data, tmp_path / "run", search_path, "data=stripes", "model=concise")
    metrics = train(cfg)
    assert (cfg.model.num_inputs, cfg.model.num_classes) == (256, 3)
    assert metrics["acc/test"] > 0.7, "three classes, a fifth of them confused: about 0.87 is the most"


def test_files_of_another_image_size_are_refused_naming_both_sizes(tmp_path: Path) -> None:
    from mlplab.errors import DataError

    data = make_fake_fashion_mnist(tmp_path / "small", n_train=300, n_test=100, size=20)
    with pytest.raises(DataError, match=r"holds 20x20 images; MNIST's are 28x28 \(data.image_size\)"):
        train(compose_tiny(data, tmp_path / "run", "data=mnist", "data.system_dir=null"))


def test_a_model_size_that_disagrees_with_the_data_set_is_refused_before_any_work(
    fake_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [f"data.data_dir={fake_data}", "data=kmnist", "model.num_classes=7", f"hydra.run.dir={tmp_path / 'run'}"]
    code, _, err = command_line_answer(args, capsys)
    assert code == 2
    assert err.startswith("error: model.num_classes=7 is not allowed: KMNIST has 10 classes (data.classes)"), err
    assert not (tmp_path / "run").exists()


def test_a_folder_lacking_files_of_a_data_set_without_a_system_copy_says_where_else_to_look(tmp_path: Path) -> None:
    from mlplab.errors import DataError

    data = make_fake_fashion_mnist(tmp_path / "partial", n_train=100, n_test=50)
    (data / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"lacks train-images-idx3-ubyte .*leave data.data_dir out to look in data/"):
        train(compose_tiny(data, tmp_path / "run", "data=mnist", "data.system_dir=null"))
