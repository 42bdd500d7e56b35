"""File-like helpers for body tests."""

from __future__ import annotations

import io


class RecordingFile(io.BytesIO):
    """A binary file that records every read size, proving bodies stream; can refuse seeks."""

    def __init__(self, data: bytes, name: str = "big.bin", *, seekable: bool = True) -> None:
        super().__init__(data)
        self.name = name  # multipart takes the part's filename from here
        self.read_sizes: list[int | None] = []
        self._can_seek = seekable

    def read(self, size: int | None = -1) -> bytes:
        self.read_sizes.append(size)
        return super().read(size)

    def seekable(self) -> bool:
        return self._can_seek
