"""Classify 28x28 grayscale images with a trained run: the predicted class and the top-3 probabilities.

    python src/predict.py outputs/latest shoe.png shirt.png
    python src/predict.py outputs/runs/<run folder>/checkpoints/best.ckpt shoe.png
    python src/predict.py outputs/latest --invert photo.png      # a dark object on a light background

Fashion-MNIST draws a light object on a black background; photos and drawings are usually the
other way round, and --invert flips them. Colour, CMYK, YCbCr, palette and 1-bit images are converted
to grayscale; 16-bit images are scaled by 65535; 32-bit integer images holding 0..255 by 255 and
0..65535 by 65535; float images holding 0..1 are taken as they are and 0..255 scaled by 255; any other
range is refused. Transparency is composited onto black, the data set's background, except that an
image whose visible pixels are all one colour is a drawing in its alpha channel and is read as that
alpha (opaque is light); --invert flips the colours before that, never the transparency. An image is
refused from its header when its size is not the model's, so a decompression bomb is never decoded.
An image that cannot be used is reported on its own line and the others are still classified; the
exit status is then 1.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from PIL import Image, UnidentifiedImageError

from mlplab.checkpoints import checkpoint_of, load_checkpoint, load_run_config, restore_model, run_folder_of
from mlplab.errors import CheckpointError, DataError, reported_as_one_line

# What the refusals list as accepted: every Pillow mode that read_image reads.
ACCEPTED = (
    "accepted: 1-bit, 8-bit, 16-bit, 32-bit integer or float grayscale, palette, RGB, CMYK or YCbCr, "
    "with or without transparency"
)
EIGHT_BIT_MODES = ("1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr")
ALPHA_MODES = ("LA", "PA", "RGBA", "RGBa")
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
# Visible pixels whose colours spread by at most this much (of 1) are one colour: lossy coding included.
ONE_COLOUR = 0.02


def read_image(path: Path, invert: bool = False, size: tuple[int, int] = (28, 28)) -> torch.Tensor:
    """An image file as a float tensor of shape `size` (rows, columns) in [0, 1], light on dark as the data set's."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    wanted = f"the model takes {size[1]}x{size[0]} grayscale images"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below by its size, unread
            image = Image.open(path)
    except Image.DecompressionBombError as err:
        raise DataError(f"{path} declares over {2 * Image.MAX_IMAGE_PIXELS} pixels, left unread; {wanted}") from err
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"{path} is not a readable image (PNG, JPEG, WebP, GIF, TIFF or BMP)") from err
    with image:
        columns, rows = image.size  # from the header: nothing is decoded yet
        if (rows, columns) != tuple(size):
            raise DataError(f"{path} is {columns}x{rows} pixels; {wanted}")
        if getattr(image, "n_frames", 1) > 1:
            raise DataError(f"{path} holds {image.n_frames} frames; give a single {size[1]}x{size[0]} image")
        try:
            gray, alpha = gray_and_alpha(image, path)
        except (OSError, SyntaxError, ValueError, EOFError) as err:  # what Pillow raises on damaged pixel data
            raise DataError(f"{path} is damaged or truncated ({err})") from err
    if invert:
        gray = 1 - gray
    return torch.from_numpy(on_black(gray, alpha)).float()


def gray_and_alpha(image: Image.Image, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """The image's gray levels in [0, 1] and its opacity in [0, 1] (None when it has no transparency)."""
    mode, key = image.mode, image.info.get("transparency")
    if mode in SIXTEEN_BIT_MODES or mode == "I":
        raw = np.asarray(image).astype(np.int64)
        scale = 65535 if mode in SIXTEEN_BIT_MODES else integer_scale(raw, path)
        alpha = (raw != key).astype(np.float64) if isinstance(key, int) else None  # a PNG's transparent gray level
        return raw / scale, alpha
    if mode == "F":
        return float_scaled(np.asarray(image, dtype=np.float64), path), None
    if mode in ALPHA_MODES or (mode in EIGHT_BIT_MODES and key is not None):
        rgba = image.convert("RGBA")
        return np.asarray(rgba.convert("L"), dtype=np.float64) / 255, np.asarray(rgba.getchannel("A")) / 255
    if mode in EIGHT_BIT_MODES:
        return np.asarray(image.convert("L"), dtype=np.float64) / 255, None
    raise DataError(f"{path} is a {mode} image, which is not read here; {ACCEPTED}")


def integer_scale(raw: np.ndarray, path: Path) -> int:
    """What a 32-bit integer image's values are divided by: 255 when they fit 8 bits, 65535 when 16."""
    low, high = int(raw.min()), int(raw.max())
    if low >= 0 and high <= 255:
        return 255
    if low >= 0 and high <= 65535:
        return 65535
    raise DataError(f"{path} is a 32-bit integer image with values in {low}..{high}; accepted are 0..255 or 0..65535")


def float_scaled(pixels: np.ndarray, path: Path) -> np.ndarray:
    """A float image's values in [0, 1]: taken as they are from 0..1, divided by 255 from 0..255."""
    if not np.isfinite(pixels).all():
        raise DataError(f"{path} is a float image holding NaN or infinite values; accepted are 0..1 or 0..255")
    low, high = float(pixels.min()), float(pixels.max())
    if low >= 0 and high <= 1:
        return pixels
    if low >= 0 and high <= 255:
        return pixels / 255
    raise DataError(f"{path} is a float image with values in {low:g}..{high:g}; accepted are 0..1 or 0..255")


def on_black(gray: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """One intensity per pixel: the gray composited onto black, or the alpha where it alone holds the drawing."""
    if alpha is None or alpha.min() == alpha.max():
        return gray if alpha is None else gray * alpha
    visible = gray[alpha > 0]
    if visible.max() - visible.min() <= ONE_COLOUR:  # one colour everywhere it shows: the shape is in the alpha
        return alpha
    return gray * alpha


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
    parser.add_argument("images", type=Path, nargs="+", help="28x28 images: grayscale, colour, 16-bit or float")
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
