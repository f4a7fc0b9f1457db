"""The web console's files: `static/` holds the page, its JavaScript modules and styles.

They are served as they are (no build step) by `app.routers.console` and shipped in the
package with the rest of `app`.
"""

from pathlib import Path

STATIC = Path(__file__).with_name("static")
