"""The console's modules never import matplotlib into the server process."""

from __future__ import annotations

import subprocess
import sys


def test_console_modules_do_not_import_matplotlib():
    code = (
        "import sys\n"
        "import bot.web.console, bot.web.console_dashboard, bot.web.console_charts\n"
        "import bot.web.console_config, bot.web.console_list, bot.web.flow_diagram\n"
        "import bot.web.auth, bot.web.console_login\n"
        "assert 'matplotlib' not in sys.modules, [m for m in sys.modules if 'matplot' in m]\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
