from __future__ import annotations

import json
import logging

import pytest

from ecabinet.core import logs


@pytest.mark.parametrize("json_lines", [True, False])
def test_vietnamese_is_logged_readably(
    json_lines: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logs.configure(json_lines=json_lines)
        logs.get_logger("test").info("cuộc họp bắt đầu", chu_toa="Nguyễn Văn An")
    finally:
        root.handlers[:], root.level = saved
    err = capsys.readouterr().err
    assert "Nguyễn Văn An" in err and "cuộc họp bắt đầu" in err
    assert "\\u" not in err
    if json_lines:
        record = json.loads(err.strip().splitlines()[-1])
        assert record["chu_toa"] == "Nguyễn Văn An"
