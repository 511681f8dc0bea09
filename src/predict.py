"""Classify 28x28 grayscale images with a trained run: the predicted class and the top-3 probabilities.

    python src/predict.py outputs/latest shoe.png shirt.png
    python src/predict.py outputs/runs/<run folder>/checkpoints/best.ckpt shoe.png
    python src/predict.py outputs/latest --invert photo.png      # a dark object on a light background

Fashion-MNIST draws a light object on a black background; photos and drawings are usually the
other way round, and --invert flips them. Colour and palette images are converted to grayscale,
16-bit images are scaled by 65535. An image that cannot be used is reported on its own line and
the others are still classified; the exit status is then 1.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from PIL import Image, UnidentifiedImageError

from mlplab.checkpoints import checkpoint_of, load_checkpoint, load_run_config, restore_model, run_folder_of
from mlplab.errors import CheckpointError, DataError, reported_as_one_line


def read_image(path: Path, invert: bool = False, size: tuple[int, int] = (28, 28)) -> torch.Tensor:
    """An image file as a float tensor of shape `size` (rows, columns) in [0, 1], light on dark as the data set's."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with Image.open(path) as image:
            if getattr(image, "n_frames", 1) > 1:
                raise DataError(f"{path} holds {image.n_frames} frames; give a single {size[1]}x{size[0]} image")
            if image.mode.startswith("I"):  # 16-bit grayscale (Pillow says I;16, or I for older PNGs)
                pixels = np.asarray(image, dtype=np.float64).clip(0, 65535) / 65535
            else:
                pixels = np.asarray(image.convert("L"), dtype=np.float64) / 255  # colour, palette, alpha: to gray
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"{path} is not a readable image (PNG, JPEG, WebP, GIF, TIFF or BMP)") from err
    if pixels.shape != tuple(size):
        rows, columns = pixels.shape
        raise DataError(f"{path} is {columns}x{rows} pixels; the model takes {size[1]}x{size[0]} grayscale images")
    tensor = torch.from_numpy(pixels).float()
    return 1 - tensor if invert else tensor


def predict(path: Path, images: list[Path], invert: bool = False) -> list[list[tuple[str, float]] | DataError]:
    """For each image, its three most probable classes with their probabilities, or why it cannot be read."""
    folder = run_folder_of(path)
    checkpoint = load_checkpoint(checkpoint_of(path))
    cfg = load_run_config(folder)
    model = restore_model(cfg, checkpoint)
    datamodule = instantiate(cfg.data)
    state = type(datamodule).__qualname__  # Lightning keeps a data module's state under its class name
    if state not in checkpoint:
        raise CheckpointError(f"{checkpoint_of(path)} lacks the data module's state (the input scaling); not usable")
    datamodule.load_state_dict(checkpoint[state])  # the training set's scaling
    results: list[list[tuple[str, float]] | DataError] = []
    for image in images:
        try:
            batch = datamodule.standardize(read_image(image, invert, datamodule.image_size)[None])
        except DataError as err:
            results.append(err)
            continue
        with torch.no_grad():
            probabilities = model(batch).softmax(dim=1)[0]
        top = probabilities.topk(3)
        results.append(
            [(datamodule.classes[i], p) for i, p in zip(top.indices.tolist(), top.values.tolist(), strict=True)]
        )
    return results


def main() -> None:
    """Parse the command line and print one line per image."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder (or outputs/latest), or a .ckpt file inside one")
    parser.add_argument("images", type=Path, nargs="+", help="28x28 images: grayscale, colour or 16-bit")
    parser.add_argument("--invert", action="store_true", help="the images are dark on light: flip them first")
    args = parser.parse_args()
    with reported_as_one_line():
        predictions = predict(args.run, args.images, args.invert)
    for image, top3 in zip(args.images, predictions, strict=True):
        if isinstance(top3, DataError):
            print(f"error: {top3}", file=sys.stderr)
        else:
            print(f"{image}: {top3[0][0]}  (" + ", ".join(f"{name} {p:.3f}" for name, p in top3) + ")")
    if any(isinstance(p, DataError) for p in predictions):
        sys.exit(1)


if __name__ == "__main__":
    main()
