"""How predict reads each kind of image file: every mode it accepts reads as the plain 8-bit PNG does, the rest are
refused on their own line while the other images are still classified.

The images are the session's synthetic test set (each class lights its own band of rows), written by Pillow in
each mode; predictions come from the session's trained run through predict.py's main(), in-process.
"""

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from mlplab.data.idx import read_idx
from mlplab.data.locate import FILES
from predict import read_image
from processes import main_of

CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
SANDAL, SHIRT, ANKLE_BOOT = 5, 6, 9  # not bag: a black image, what a misread gives, reads as a bag


def drawing_of(fake_data: Path, k: int) -> np.ndarray:
    """The first test-set image of class k drawn as its own class: its band of rows lit (230) on dim noise."""
    images = read_idx(fake_data / (FILES["test_images"] + ".gz"), ndim=3).numpy()
    labels = read_idx(fake_data / (FILES["test_labels"] + ".gz"), ndim=1).numpy()
    band = 2 * k + 4  # make_fake_fashion_mnist's first lit row of class k
    return next(image for image, label in zip(images, labels, strict=True) if label == k and image[band, 4] == 230)


def one_colour_with_alpha(colour: tuple[int, ...], pixels: np.ndarray) -> Image.Image:
    """The drawing in the alpha channel alone, under colour channels of one colour everywhere."""
    mode = "LA" if len(colour) == 1 else "RGBA"
    layers = [np.full_like(pixels, value) for value in colour]
    return Image.fromarray(np.stack([*layers, pixels], axis=-1), mode)


# The same drawing as each mode a file holds it in; each reads as exactly the plain 8-bit PNG's pixels.
SAME_PIXELS: dict[str, Callable[[np.ndarray], Image.Image]] = {
    "float-0-1.tif": lambda a: Image.fromarray(a.astype(np.float32) / 255),
    "float-0-255.tif": lambda a: Image.fromarray(a.astype(np.float32)),
    "int32-0-255.tif": lambda a: Image.fromarray(a.astype(np.int32)),
    "int32-0-65535.tif": lambda a: Image.fromarray(a.astype(np.int32) * 257),
    "16-bit.png": lambda a: Image.fromarray(a.astype(np.uint16) * 257),
    "rgb.png": lambda a: Image.fromarray(np.stack([a] * 3, axis=-1)),
    "cmyk.tif": lambda a: Image.fromarray(a).convert("CMYK"),
    "ycbcr.tif": lambda a: Image.fromarray(a).convert("YCbCr"),
    "palette.png": lambda a: Image.fromarray(a).convert("P"),
    "alpha-under-black.png": lambda a: one_colour_with_alpha((0, 0, 0), a),
    "alpha-under-red.png": lambda a: one_colour_with_alpha((200, 0, 0), a),
    "alpha-under-white-la.png": lambda a: one_colour_with_alpha((255,), a),
    "alpha-under-black-la.png": lambda a: one_colour_with_alpha((0,), a),
}


def on_a_transparent_white_background(a: np.ndarray) -> Image.Image:
    """The drawing's lit band in its own gray, the rest white but fully transparent: composited, it is black."""
    lit = a >= 200
    gray = np.where(lit, a, 255).astype(np.uint8)
    return Image.fromarray(np.stack([gray, gray, gray, np.where(lit, 255, 0).astype(np.uint8)], axis=-1), "RGBA")


# Modes that change the pixels (thresholded, masked) but must still show the same class.
SAME_CLASS: dict[str, Callable[[np.ndarray], Image.Image]] = {
    **SAME_PIXELS,
    "1-bit.png": lambda a: Image.fromarray(a).convert("1", dither=Image.Dither.NONE),
    "transparent-white-background.png": on_a_transparent_white_background,
}


def predicted_classes(out: str) -> dict[str, str]:
    """Each `<path>: <class>  (...)` line of predict's output as path -> class."""
    return dict(line.split("  (")[0].rsplit(": ", 1) for line in out.strip().splitlines())


def test_every_accepted_mode_reads_as_the_plain_png_does(fake_data: Path, tmp_path: Path) -> None:
    pixels = drawing_of(fake_data, ANKLE_BOOT)
    Image.fromarray(pixels).save(tmp_path / "plain.png")
    plain = read_image(tmp_path / "plain.png")
    assert plain.max().item() == pytest.approx(230 / 255)
    for name, write in SAME_PIXELS.items():
        write(pixels).save(tmp_path / name)
        read = read_image(tmp_path / name)
        assert (read - plain).abs().max().item() < 1e-6, f"{name} ({Image.open(tmp_path / name).mode}) misread"


def test_every_accepted_mode_predicts_the_class_of_the_plain_png(
    trained_run: Path, fake_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = {}
    for k in (SANDAL, SHIRT, ANKLE_BOOT):
        pixels = drawing_of(fake_data, k)
        paths[k, "plain.png"] = tmp_path / f"{k}-plain.png"
        Image.fromarray(pixels).save(paths[k, "plain.png"])
        for name, write in SAME_CLASS.items():
            paths[k, name] = tmp_path / f"{k}-{name}"
            write(pixels).save(paths[k, name])
    code, out, err = main_of("predict.py", trained_run, *paths.values(), capsys=capsys)
    assert code == 0 and err == "", err
    predicted = predicted_classes(out)
    for (k, name), path in paths.items():
        assert predicted[str(path)] == CLASSES[k], f"{name} of a {CLASSES[k]}: {out}"


def test_images_it_cannot_read_right_are_refused_one_line_each_and_the_others_classified(
    trained_run: Path, fake_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    pixels = drawing_of(fake_data, ANKLE_BOOT).astype(np.float32)
    refused = {
        "out-of-range.tif": (Image.fromarray(pixels / 230 * 305 - 5), "is a float image with values in -5..300; "),
        "nan.tif": (Image.fromarray(np.where(pixels > 200, np.nan, pixels)), "is a float image holding NaN or inf"),
        "negative.tif": (Image.fromarray(pixels.astype(np.int32) - 10), "is a 32-bit integer image with values in"),
        "lab.tif": (Image.fromarray(pixels.astype(np.uint8)).convert("LAB"), "is a LAB image, which is not read here"),
        # Tiny on disk, each declaring more pixels than Pillow's limit: twice it (an error) and once (a warning).
        "bomb.png": (Image.new("1", (20000, 20000)), "declares over 178956970 pixels, left unread; the model takes"),
        "big.png": (Image.new("1", (10000, 10000)), "is 10000x10000 pixels; the model takes 28x28 grayscale images"),
    }
    for name, (image, _) in refused.items():
        image.save(tmp_path / name)
    Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "plain.png")
    decoded = []
    load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda image: decoded.append(image.size) or load(image))
    # The bomb first: the images after it are still classified or refused on their own lines.
    paths = [tmp_path / name for name in dict.fromkeys(["bomb.png", "plain.png", *refused])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = main_of("predict.py", trained_run, *paths, capsys=capsys)
    assert code == 1
    assert predicted_classes(out) == {str(tmp_path / "plain.png"): "ankle boot"}
    lines = err.splitlines()
    assert len(lines) == len(paths) - 1, err
    for name, (_, message) in refused.items():
        assert sum(line.startswith(f"error: {tmp_path / name} {message}") for line in lines) == 1, err
    assert "accepted: 1-bit, 8-bit, 16-bit, 32-bit integer or float grayscale" in err  # the LAB line
    assert "accepted are 0..1 or 0..255" in err and "accepted are 0..255 or 0..65535" in err
    assert decoded and set(decoded) == {(28, 28)}, "only the 28x28 images are decoded"
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_invert_flips_the_colours_before_compositing_and_not_the_alpha(
    trained_run: Path, fake_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pixels = drawing_of(fake_data, SHIRT)
    opaque = np.zeros_like(pixels)
    opaque[2:-2, 2:-2] = 255  # a transparent white margin: after inverting, the background there is black too
    dark_on_light = np.stack([255 - pixels] * 3 + [opaque], axis=-1)
    Image.fromarray(dark_on_light, "RGBA").save(tmp_path / "dark-on-light.png")
    one_colour_with_alpha((0, 0, 0), pixels).save(tmp_path / "alpha-drawing.png")
    read = read_image(tmp_path / "dark-on-light.png", invert=True)
    assert read[:2].max().item() == 0 and read[2:-2, 2:-2].mul(255).round().equal(
        read_image(tmp_path / "alpha-drawing.png", invert=True)[2:-2, 2:-2].mul(255).round()
    )
    code, out, err = main_of("predict.py", trained_run, "--invert", *sorted(tmp_path.glob("*.png")), capsys=capsys)
    assert code == 0, err
    assert set(predicted_classes(out).values()) == {"shirt"}, out
