"""Serve TensorBoard for a folder of runs (outputs/, or one sweep) under readable run names, opening on what differs.

python src/serve_tensorboard.py                                  # every run under outputs/
python src/serve_tensorboard.py outputs/multirun/<sweep folder>  # one sweep
"""

import argparse
import contextlib
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

from mlplab.tensorboard_view import build_view, link_new_events

# Curves of 3-40 points: TensorBoard's default smoothing (0.6) moves them visibly and can swap two runs.
SMOOTHING = 0
# TIME SERIES sorts its cards by tag, so acc/test (one point per run) would come first: the link pins the
# validation curves above them. TensorBoard reads pins from its URL (its own links carry them so).
PINNED = ("acc/val", "loss/val")
# TensorBoard has 7 run colours and goes round them. Grouped by this regex's capture, a job's sweep
# (`concise-relu@12-04_09-47-50_3`, `concise-relu@lr_study_0`) or a single run's time, each sweep and
# each single run has one colour (up to 7 of them).
BY_SWEEP = r"@(.+)_\d+$|_(\d\d-\d\d_\d\d-\d\d-\d\d)$"
RESCAN_S = 10  # how often event files that runs add later (eval, resume) are linked into the view


def address(host: str, port: int) -> str:
    """The address to open: no smoothing, the validation curves pinned first."""
    pins = json.dumps([{"plugin": "scalars", "tag": tag} for tag in PINNED], separators=(",", ":"))
    return f"http://{host}:{port}/?" + urllib.parse.urlencode({"smoothing": SMOOTHING, "pinnedCards": pins})


def guide(url: str, folder: Path, names: list[str]) -> str:
    """What to open and what to look at, printed before TensorBoard starts."""
    shown = ", ".join(names[:6]) + (f", ... ({len(names)} runs)" if len(names) > 6 else "")
    return "\n".join([
        f"TensorBoard for {folder}: {shown}",
        f"  {url}#timeseries",
        "      TIME SERIES: acc/val and loss/val pinned first, then acc/ and loss/ for train, val and test,",
        f"      smoothing {SMOOTHING}; acc/test is one point per run: untick Settings > 'Ignore outliers' to see all",
        f"  {url.split('&', 1)[0]}#hparams",
        "      HPARAMS: a row per run, only the settings that differ, then test and val accuracy",
        "      (PARALLEL COORDINATES VIEW: each setting against the accuracy)",
        *by_sweep(url, names),
        "  runs started after this appear when you restart it; Ctrl-C stops it",
    ])  # fmt: skip


def by_sweep(url: str, names: list[str]) -> list[str]:
    """Where runs of more than one sweep or run are served: the link that colours them by sweep."""
    if len({match.groups() for name in names if (match := re.search(BY_SWEEP, name))}) < 2:
        return []
    colours = urllib.parse.urlencode({"runColorGroup": f"regex:{BY_SWEEP}"})
    return [f"  {url}&{colours}#timeseries", "      the same, one colour per sweep (7 colours: more sweeps share them)"]


def main() -> None:
    """Parse the command line, build the view in a temporary folder, serve it until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=Path("outputs"), help="a folder of runs (outputs/)")
    parser.add_argument("--host", default="127.0.0.1", help="the address to serve on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=6006, help="the port to serve on")
    args = parser.parse_args()
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder; give a folder of runs, e.g. outputs or outputs/multirun/<sweep>")
    # `kill` (or a test's terminate) stops TensorBoard and removes the view, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    temporary = Path(tempfile.mkdtemp(prefix="mlplab-tensorboard-"))
    # Named as the folder served: where TensorBoard names its data (SCALARS), it names the user's sweep.
    view = temporary / args.folder.resolve().name
    view.mkdir()
    server = None
    try:
        names = build_view(args.folder.resolve(), view)
        if not names:
            parser.error(f"no runs with TensorBoard events under {args.folder}")
        print(guide(address(args.host, args.port), args.folder, list(names)), flush=True)
        command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(view), "--host", args.host]
        server = subprocess.Popen([*command, "--port", str(args.port)])
        with contextlib.suppress(KeyboardInterrupt):  # TensorBoard gets the same Ctrl-C and stops on its own
            while server.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.wait(timeout=RESCAN_S)
                link_new_events(view, names)
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(temporary)


if __name__ == "__main__":
    main()
