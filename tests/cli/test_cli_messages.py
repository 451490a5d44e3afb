"""argparse's English errors reach administrators in Chinese, still on one line."""

from __future__ import annotations

import pytest

from app.cli import EXIT_USAGE, main


@pytest.mark.parametrize(("argv", "expected"), [
    (["bogus"], "无效的选择“bogus”"),
    (["catalog"], "缺少参数：操作"),
    (["calendar", "add-workdays", "2026-01-01", "x"], "“x”不是整数"),
    (["catalog", "search"], "缺少参数：query"),
    (["catalog", "list", "--foo"], "无法识别的参数：--foo"),
    (["catalog", "list", "--level", "省级"], "可选：县级, 乡镇, 村"),
])
def test_argument_errors_are_one_chinese_line(argv: list[str], expected: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert expected in err
    assert "invalid" not in err and "required" not in err
