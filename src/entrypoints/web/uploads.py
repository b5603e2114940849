"""Multipart uploads on the candidate pages: file parts stream into the upload receiver (a
temporary file, the size limit enforced while reading), and only those pages accept bodies
larger than the API's 1 MiB."""

from __future__ import annotations

from typing import Any

from flask import Request, current_app

MAX_FILES_PER_REQUEST = 5
_FORM_ALLOWANCE = 1024 * 1024


class PasseMarcheRequest(Request):
    _max_content_length_override: int | None = None

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length_override is not None:
            return self._max_content_length_override
        if self.path.startswith("/candidate/") and self.method == "POST":
            uploads = current_app.extensions["passemarche"].uploads
            return int(uploads.max_bytes * MAX_FILES_PER_REQUEST + _FORM_ALLOWANCE)
        return current_app.config.get("MAX_CONTENT_LENGTH")

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length_override = value

    def _get_file_stream(  # type: ignore[override]
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> Any:
        uploads = current_app.extensions["passemarche"].uploads
        return uploads.stream_factory(total_content_length, content_type, filename, content_length)
