"""A screenshot of the game (the command palette's "Screenshot"): an SVG in a folder that
exists, and the player is told where it went."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from textual.app import App


def screenshot_folder() -> Path:
    """The Downloads folder where there is one, else the game's own folder of screenshots."""
    downloads = platformdirs.user_downloads_path()
    if downloads.is_dir():
        return downloads
    return platformdirs.user_data_path("rp2p") / "screenshots"


def save_screenshot(app: App[int], folder: Path) -> Path | None:
    """Save the screen in `folder` (made if missing) and say where; None if it could not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = Path(app.save_screenshot(path=str(folder)))
    except OSError as exc:
        app.notify(f"could not save a screenshot in {folder}: {exc.strerror}",
                   title="Screenshot", severity="error")  # fmt: skip
        return None
    app.notify(f"saved the screenshot to {path}", title="Screenshot", timeout=10)
    return path
