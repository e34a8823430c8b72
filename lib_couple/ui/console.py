"""The app's console without gradio's traces of user errors.

Gradio prints the full traceback of every exception an event raises, `gr.Error` included, so a
refused mapping fills the server console with a trace. The handlers log the refusal themselves
as one `Forge Couple:` line; this filter, installed on stderr by `serve`, drops the traces that
end in a `gradio.exceptions.Error` and passes every other trace (a real bug) through whole.
"""

from __future__ import annotations

from typing import TextIO

TRACE_START = "Traceback (most recent call last):"
USER_ERROR = "gradio.exceptions.Error: "


class UserErrorTraceFilter:
    """A stderr stand-in: buffers a traceback until its last line, then drops or writes it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._partial = ""
        self._trace: list[str] | None = None

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._line(line + "\n")
        return len(text)

    def _line(self, line: str) -> None:
        if self._trace is None:
            if line.rstrip("\n") == TRACE_START:
                self._trace = [line]
            else:
                self.stream.write(line)
            return
        self._trace.append(line)
        if line.startswith((" ", "\t")) or line.strip() in ("", "^"):
            return  # a frame, its source line or a caret line: the trace goes on
        trace, self._trace = self._trace, None
        if not line.startswith(USER_ERROR):
            self.stream.write("".join(trace))

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)
