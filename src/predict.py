"""Classify 28x28 grayscale images with a trained run: the predicted class and the top-3 probabilities.

    python src/predict.py outputs/runs/<run folder> shoe.png shirt.png
    python src/predict.py outputs/runs/<run folder>/checkpoints/best.ckpt shoe.png

Images are read as Fashion-MNIST draws them: a light object on a black background.
"""

import argparse
from pathlib import Path

import torch
from hydra.utils import instantiate
from torchvision.io import ImageReadMode, decode_image

from mlplab.checkpoints import checkpoint_of, load_checkpoint, load_run_config, restore_model, run_folder_of
from mlplab.data.datamodule import CLASSES
from mlplab.errors import DataError, reported_as_one_line


def read_image(path: Path) -> torch.Tensor:
    """A 28x28 image file as a uint8 tensor of shape (28, 28)."""
    try:
        image = decode_image(str(path), mode=ImageReadMode.GRAY)
    except (RuntimeError, OSError) as err:
        raise DataError(f"{path} is not a readable image (PNG, JPEG, WebP or GIF)") from err
    if tuple(image.shape[1:]) != (28, 28):
        raise DataError(f"{path} is {image.shape[2]}x{image.shape[1]} pixels; the model takes 28x28 grayscale images")
    return image[0]


def predict(path: Path, images: list[Path]) -> list[list[tuple[str, float]]]:
    """For each image, the three most probable classes with their probabilities, most probable first."""
    folder = run_folder_of(path)
    checkpoint = load_checkpoint(checkpoint_of(path))
    cfg = load_run_config(folder)
    model = restore_model(cfg, checkpoint)
    datamodule = instantiate(cfg.data)
    datamodule.load_state_dict(checkpoint["FashionMNISTDataModule"])  # the training set's scaling
    batch = datamodule.scale(torch.stack([read_image(p) for p in images]))
    with torch.no_grad():
        probabilities = model(batch).softmax(dim=1)
    top = probabilities.topk(3, dim=1)
    return [
        [(CLASSES[i], p) for i, p in zip(idx.tolist(), prob.tolist(), strict=True)]
        for idx, prob in zip(top.indices, top.values, strict=True)
    ]


def main() -> None:
    """Parse the command line and print one line per image."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder, or a .ckpt file inside one")
    parser.add_argument("images", type=Path, nargs="+", help="28x28 grayscale PNG or JPEG files")
    args = parser.parse_args()
    with reported_as_one_line():
        predictions = predict(args.run, args.images)
    for image, top3 in zip(args.images, predictions, strict=True):
        print(f"{image}: {top3[0][0]}  (" + ", ".join(f"{name} {p:.3f}" for name, p in top3) + ")")


if __name__ == "__main__":
    main()
