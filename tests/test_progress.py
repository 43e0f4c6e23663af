"""The progress bar: counts and position drawn together, lines above the bar, quiet is quiet."""

from __future__ import annotations

import io
import re
from collections import Counter

from batcher.progress import LOG_EVERY, Reporter, progress_reporter


class Terminal(io.StringIO):
    """A stream that says it is a terminal, so the reporter draws a bar on it."""

    def isatty(self) -> bool:
        return True


def frames(text: str) -> list[str]:
    """Every frame tqdm drew (a frame starts at a carriage return or a new line)."""
    return [f for f in re.split(r"[\r\n]", text) if "sending" in f]


def test_every_frame_shows_the_position_and_the_counts_of_the_same_moment():
    screen = Terminal()
    reporter = Reporter(3000, screen, mininterval=0)
    for done in (1000, 2000, 3000):
        reporter(Counter(accepted=done - 500, unknown=500), done // 1000)
    reporter.close()
    drawn = [f for f in frames(screen.getvalue()) if "accepted" in f]
    assert drawn
    for frame in drawn:
        position = int(re.search(r"(\d+)/3000", frame).group(1))
        accepted = int(re.search(r"accepted (\d+)", frame).group(1))
        unknown = int(re.search(r"unknown (\d+)", frame).group(1))
        assert position == accepted + unknown, frame
    assert "3000/3000" in drawn[-1] and "accepted 2500" in drawn[-1]
    assert "3 requests" in drawn[-1]


def test_the_last_counts_are_drawn_even_within_the_refresh_interval():
    screen = Terminal()
    reporter = Reporter(2, screen, mininterval=3600)
    reporter(Counter(accepted=1), 1)
    reporter(Counter(accepted=2), 2)
    assert "accepted 2; 2 requests" in frames(screen.getvalue())[-1]
    reporter.close()


def test_a_line_said_while_the_bar_is_shown_starts_on_a_line_of_its_own():
    screen = Terminal()
    reporter = Reporter(10, screen, mininterval=0)
    reporter(Counter(accepted=4), 2)
    screen.write("^C")  # what the terminal echoes when the operator presses Ctrl-C
    reporter.say("stopping: waiting for 1 request(s) in flight")
    text = screen.getvalue()
    before = text.split("stopping")[0]
    assert re.split(r"[\r\n]", before)[-1].strip() == ""
    assert "accepted 4" in frames(text.split("stopping")[1])[-1]  # the bar comes back below
    reporter.close()


def test_without_a_terminal_lines_go_to_say_and_log_lines_now_and_then():
    stream, said = io.StringIO(), []
    now = [0.0]
    reporter = Reporter(10, stream, say=said.append, clock=lambda: now[0])
    reporter(Counter(accepted=1), 1)
    assert stream.getvalue() == ""
    now[0] = LOG_EVERY
    reporter(Counter(accepted=2), 2)
    reporter.say("a note")
    reporter(Counter(accepted=10), 5)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("sent 2/10 numbers (accepted 2; 2 requests)")
    assert lines[1].startswith("sent 10/10 numbers")
    assert said == ["a note"]


def test_quiet_prints_nothing():
    stream = Terminal()
    reporter = progress_reporter(5, quiet=True, stream=stream)
    reporter(Counter(accepted=5), 1)
    reporter.say("note")
    reporter.close()
    assert stream.getvalue() == ""
