"""The progress bar: a tqdm bar when the command line runs on a terminal."""

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time

import pytest

from tests.clitools import REPO, TOY2D, env, main_command


def run_on_a_terminal(command: list[str], size: tuple[int, int] | None = None,
                      timeout: float = 300) -> tuple[int, str]:
    """Runs ``command`` with stdout and stderr on a pseudo-terminal; its exit code and output.

    ``size``: the window's (rows, columns); None leaves the new terminal's 0 x 0.
    """
    master, slave = pty.openpty()
    if size is not None:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    process = subprocess.Popen(command, cwd=REPO, env=env(TERM="xterm", COLUMNS="120"),
                               stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer of the terminal has closed it
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                break
        else:
            raise TimeoutError(f"{command} ran longer than {timeout} s")
        return process.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)


@pytest.mark.parametrize("size", [(24, 100), None], ids=["sized", "no_window_size"])
def test_a_terminal_gets_the_bar_and_no_plain_step_lines(tmp_path, size):
    code, output = run_on_a_terminal(main_command(
        TOY2D + ":runlocal", str(tmp_path / "run"), "--config.total_steps=20",
        "--config.log_every=5"), size)
    assert code == 0, output[-3000:]
    assert re.search(r"\b20/20\b", output), output[-3000:]  # tqdm's counter at the end
    assert re.search(r"(step/s|s/step|it/s)", output), output[-3000:]  # tqdm's rate
    assert not re.search(r"step \d+/20 ", output), output[-3000:]  # the non-terminal lines
