"""Screenshots of TensorBoard as `make tensorboard` serves it, in headless Chromium, for docs/tensorboard.md.

A dev-only tool: needs Debian's chromium and chromium-driver and `pip install selenium`.
    python docs/screenshots.py 6006 docs/figures     # the port make tensorboard serves on
"""

import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from serve_tensorboard import address  # noqa: E402  (the link make tensorboard prints)

# The HPARAMS dashboard is built of Polymer elements: its tabs sit inside shadow roots, which XPath
# does not enter. Click the innermost element whose text is the argument, searching every root.
CLICK_TEXT = """
const target = arguments[0];
function search(root) {
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) { const hit = search(el.shadowRoot); if (hit) return hit; }
    if (el.children.length === 0 && el.textContent.trim().toUpperCase() === target) return el;
  }
  return null;
}
const hit = search(document);
if (hit) hit.click();
return hit !== null;
"""


def browser() -> webdriver.Chrome:
    """Headless Chromium with a window as wide as a laptop's."""
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1500,1250"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def shoot(driver: webdriver.Chrome, url: str, out: Path, clicks: tuple[str, ...] = (), wait: float = 8) -> None:
    """Open `url`, wait for its data, click the elements whose texts are `clicks`, save a PNG."""
    driver.get(url)
    time.sleep(wait)
    for text in clicks:
        assert driver.execute_script(CLICK_TEXT, text.upper()), f"nothing reads {text!r} on {url}"
        time.sleep(wait / 2)
    driver.save_screenshot(str(out))
    print(f"wrote {out}")


def main() -> None:
    """Take the three screenshots: HPARAMS table, parallel coordinates, Time Series, from the printed links."""
    base, folder = address("127.0.0.1", int(sys.argv[1])), Path(sys.argv[2])
    driver = browser()
    try:
        shoot(driver, f"{base}#hparams", folder / "tensorboard_hparams_table.png")
        shoot(driver, f"{base}#hparams", folder / "tensorboard_parallel_coordinates.png",
              clicks=("PARALLEL COORDINATES VIEW",))  # fmt: skip
        # TensorBoard's default scaling ignores "outliers": with a few runs of 5 points, the best runs' ends.
        shoot(driver, f"{base}#timeseries", folder / "tensorboard_time_series.png",
              clicks=("Ignore outliers in chart scaling",))  # fmt: skip
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
