"""Evaluate a trained run on the test set: accuracy, confusion matrix and per-class accuracy.

    python src/eval.py outputs/runs/<run folder>                # its checkpoints/last.ckpt
    python src/eval.py outputs/runs/<run folder>/checkpoints/best.ckpt

Writes <run>/eval/<checkpoint>/ (confusion_matrix.csv, confusion_matrix.png, per_class_accuracy.csv
and .md) and logs the figure and the table to the run's TensorBoard.
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.utils.tensorboard import SummaryWriter
from torchmetrics.classification import MulticlassConfusionMatrix

from mlplab.checkpoints import checkpoint_of, load_checkpoint, load_run_config, restore_model, run_folder_of
from mlplab.data.provenance import changed_files
from mlplab.errors import StorageError, describe_os_error, reported_as_one_line
from mlplab.figures.confusion import confusion_figure


def evaluate(path: Path) -> dict[str, float]:
    """Evaluate the checkpoint at `path` (or a run folder's last.ckpt); return its test accuracy and more."""
    folder = run_folder_of(path)
    checkpoint_path = checkpoint_of(path)
    cfg = load_run_config(folder)
    out = folder / "eval" / checkpoint_path.stem
    try:  # before any work: the tables and figure go into the run's folder
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StorageError(
            f"cannot write the evaluation into {out}: {describe_os_error(err)}; copy the run folder somewhere writable"
        ) from None
    try:
        return _evaluate_into(out, folder, checkpoint_path, cfg)
    except BaseException:
        for made in (out, out.parent):  # a failed evaluation leaves no empty folder behind
            if made.is_dir() and not any(made.iterdir()):
                made.rmdir()
        raise


def _evaluate_into(out: Path, folder: Path, checkpoint_path: Path, cfg: DictConfig) -> dict[str, float]:
    """The evaluation itself: the tables and figure into `out`, the figure and table into TensorBoard."""
    checkpoint = load_checkpoint(checkpoint_path)
    model = restore_model(cfg, checkpoint)
    datamodule = instantiate(cfg.data)
    if (state := type(datamodule).__qualname__) in checkpoint:  # Lightning keeps it under the class's name
        datamodule.load_state_dict(checkpoint[state])  # the scaling the model was trained with
    datamodule.setup("test")
    tested_on = {key: file for key, file in datamodule.files.items() if key.startswith("test_")}
    for key, file, now, recorded in changed_files(tested_on, folder):
        print(
            f"warning: {file} is not the file the run was tested on ({key}: sha256 {now[:12]}, data.json says "
            f"{recorded[:12]}); the accuracy below is on the files as they are now",
            file=sys.stderr,
        )
    images, labels = datamodule.splits["test"]
    classes = datamodule.classes  # the run's data set's, from its config.yaml

    confusion = MulticlassConfusionMatrix(num_classes=len(classes))
    with torch.no_grad():
        for start in range(0, len(images), 1024):
            confusion.update(model(images[start : start + 1024]).argmax(dim=1), labels[start : start + 1024])
    matrix = confusion.compute()
    per_class = matrix.diag() / matrix.sum(dim=1)
    accuracy = (matrix.diag().sum() / matrix.sum()).item()

    header = ",".join(classes)
    rows = "\n".join(f"{name},{','.join(str(int(v)) for v in row)}" for name, row in zip(classes, matrix, strict=True))
    (out / "confusion_matrix.csv").write_text(f"true \\ predicted,{header}\n{rows}\n")
    (out / "per_class_accuracy.csv").write_text(
        "class,accuracy\n" + "".join(f"{n},{a:.4f}\n" for n, a in zip(classes, per_class.tolist(), strict=True))
    )
    table = "| class | accuracy |\n|---|---|\n" + "".join(
        f"| {n} | {a:.4f} |\n" for n, a in zip(classes, per_class.tolist(), strict=True)
    )
    (out / "per_class_accuracy.md").write_text(table)
    title = f"{folder.name} ({checkpoint_path.stem}.ckpt): test accuracy {accuracy:.3f}"
    figure = confusion_figure(confusion, list(classes), title)
    figure.savefig(out / "confusion_matrix.png", dpi=100, bbox_inches="tight")

    with SummaryWriter(str(folder / "tensorboard")) as writer:
        writer.add_figure(f"results/{checkpoint_path.stem}/confusion_matrix", figure)
        writer.add_text(f"results/{checkpoint_path.stem}/per_class_accuracy", table)
        writer.add_scalar(f"results/{checkpoint_path.stem}/test_acc", accuracy)
    return {"acc/test": accuracy} | {f"acc/test/{n}": a for n, a in zip(classes, per_class.tolist(), strict=True)}


def main() -> None:
    """Parse the command line, evaluate, and compare with what training recorded."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="a run folder, or a .ckpt file inside one")
    path = parser.parse_args().path
    with reported_as_one_line():
        results = evaluate(path)
    for key, accuracy in results.items():
        if key.startswith("acc/test/"):  # one per class, in the data set's order
            print(f"{key.removeprefix('acc/test/'):>12}  {accuracy:.4f}")
    line = f"test acc {results['acc/test']:.4f}"
    recorded = run_folder_of(path) / "metrics.json"
    if path.suffix != ".ckpt" and recorded.is_file():
        line += f" (recorded at the end of training: {json.loads(recorded.read_text())['acc/test']:.4f})"
    print(line)


if __name__ == "__main__":
    main()
