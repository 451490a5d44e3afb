"""One base class per exit status: the CLI catches ``UserError`` (2) and
``IntegrityProblem`` (4), not a list of every service's errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app import cli
from app.cli import EXIT_FAILED, EXIT_INTEGRITY, EXIT_USAGE, main
from app.cli.common import UsageError
from app.config import ConfigError
from app.domain.calendar import CalendarNotCovered
from app.domain.calendar_format import CalendarFileError
from app.domain.catalogue_format import CatalogueFileError
from app.domain.notice import NoticeConfigError
from app.domain.numbering import CaseNumberError
from app.errors import IntegrityProblem, UserError
from app.services.accounts import LoginError, PasswordPolicyError
from app.services.backup import BackupError
from app.services.cases import CaseRuleError
from app.services.catalogue import NotFound
from app.services.integrity import IntegrityAlarm
from app.services.permissions import PermissionDenied
from app.services.printing import DocumentError, DocumentIntegrityError
from app.storage.anchor import AnchorError
from app.storage.db import DatabaseError
from app.storage.files import FileWriteError, UnsafePath

# Each user error with the base that code outside the CLI may still catch it by.
USER_ERRORS: list[tuple[type[Exception], type[Exception]]] = [
    (UsageError, Exception), (ConfigError, ValueError), (CalendarNotCovered, LookupError),
    (CalendarFileError, ValueError), (CatalogueFileError, ValueError),
    (NoticeConfigError, ValueError), (CaseNumberError, ValueError), (LoginError, Exception),
    (PasswordPolicyError, ValueError), (BackupError, RuntimeError),
    (CaseRuleError, ValueError), (NotFound, LookupError), (PermissionDenied, PermissionError),
    (DocumentError, ValueError), (DatabaseError, RuntimeError), (FileWriteError, OSError),
    (UnsafePath, OSError),
]
INTEGRITY: list[tuple[type[Exception], type[Exception]]] = [
    (IntegrityAlarm, DatabaseError), (DocumentIntegrityError, DocumentError),
    (AnchorError, OSError),
]


@pytest.mark.parametrize(("error", "old_base"), USER_ERRORS)
def test_user_errors_keep_their_old_base(error: type[Exception], old_base: type[Exception]
                                         ) -> None:
    assert issubclass(error, UserError) and issubclass(error, old_base)
    assert not issubclass(error, IntegrityProblem)


@pytest.mark.parametrize(("error", "old_base"), INTEGRITY)
def test_integrity_problems_keep_their_old_base(error: type[Exception],
                                                old_base: type[Exception]) -> None:
    assert issubclass(error, IntegrityProblem) and issubclass(error, old_base)


def _raising(exc: Exception) -> object:
    def run(argv: list[str]) -> int:
        raise exc
    return run


@pytest.mark.parametrize(("exc", "code"), [
    (PermissionDenied("只有管理员可以管理账号"), EXIT_USAGE),
    (FileWriteError("无法写入 /x：没有权限"), EXIT_USAGE),
    (NotFound("目录中没有编码为“X”的事项。"), EXIT_USAGE),
    # Both a DatabaseError (a UserError) and an IntegrityProblem: the integrity status wins.
    (IntegrityAlarm("数据库缺少锚定文件记录的办件"), EXIT_INTEGRITY),
    (DocumentIntegrityError("办件记录与日志不符，已停止打印"), EXIT_INTEGRITY),
    (AnchorError("锚定文件无法写入"), EXIT_INTEGRITY),
])
def test_the_base_class_decides_the_exit_status(exc: Exception, code: int,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "_run", _raising(exc))
    assert main(["doctor"]) == code
    assert capsys.readouterr().err == f"yichuang: {exc}\n"


def test_any_other_exception_is_internal(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    monkeypatch.setenv("YICHUANG_HOME", str(tmp_path))
    monkeypatch.setattr(cli, "_run", _raising(ValueError("not for the user")))
    assert main(["doctor"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith("yichuang: 内部错误（ValueError）") and "not for the user" not in err


def test_app_errors_imports_nothing() -> None:
    code = ("import sys; before = set(sys.modules); import app.errors; "
            "print(sorted(set(sys.modules) - before))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['app', 'app.errors']"
