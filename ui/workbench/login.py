"""Login and the forced password change, as two small keyboard-first dialogs.

The login is the first thing on screen, shown while the workstation is still opening
(see :mod:`ui.workbench.opening`): this module must not import the services, SQLAlchemy
or anything else of the core beyond :mod:`app.errors` (a test checks it). The account
service is only a type here; its errors are recognised by their common base.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserError
from ui.ops import Operation

if TYPE_CHECKING:
    from app.services.accounts import AccountService, ClerkSession

# Shown when the clerk submits before the workstation is open (a first start seeds the
# database and takes seconds; a normal morning, about half of one).
WAITING_FOR_DATABASE = "正在打开数据库…"


class _FormDialog(QDialog):
    """Enter moves to the next field and submits from the last one.

    QDialogButtonBox makes its OK button the default when shown, so a plain QDialog
    would submit a half-filled form on the first Enter; this handles Enter itself.
    """

    def __init__(self, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.fields: list[QLineEdit] = []
        self.session: ClerkSession | None = None
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)

    def _lay_out(self, above: list[QWidget], rows: list[tuple[str, QLineEdit]],
                 below: list[QWidget], ok: str, cancel: str) -> QDialogButtonBox:
        """Widgets above the form, the labelled fields, widgets below, the error line and
        the OK/Cancel buttons; the fields, in order, are what Enter walks through."""
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok)
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(cancel)
        buttons.accepted.connect(self._submit)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        for label, field in rows:
            form.addRow(label, field)
        self.fields = [field for _, field in rows]
        layout = QVBoxLayout(self)
        for widget in above:
            layout.addWidget(widget)
        layout.addLayout(form)
        for widget in [*below, self.error, buttons]:
            layout.addWidget(widget)
        self.fields[0].setFocus(Qt.FocusReason.OtherFocusReason)
        return buttons

    def _submit(self) -> None:
        raise NotImplementedError

    def _failed(self, exc: Exception) -> None:
        raise NotImplementedError

    def _run(self, progress: str, work: Callable[[], ClerkSession]) -> None:
        """Run the account call off the main thread (Argon2id is deliberately slow)."""
        self._say_progress(progress)
        self.setEnabled(False)
        Operation(self, work, self._succeeded).failure(self._failed_and_enable).run()

    def _succeeded(self, session: ClerkSession) -> None:
        self.session = session
        self.setEnabled(True)
        self.accept()

    def _failed_and_enable(self, exc: Exception) -> None:
        self.setEnabled(True)
        self.error.setStyleSheet("")   # red again (the style sheet's #error)
        self._failed(exc)

    def _say_progress(self, text: str) -> None:
        """Work under way is no error: said in grey in the same place."""
        self.error.setStyleSheet("color: #555;")
        self.error.setText(text)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            current = self.focusWidget()
            if current in self.fields[:-1]:
                self.fields[self.fields.index(current) + 1].setFocus()
            elif self.isEnabled():
                self._submit()
            return
        super().keyPressEvent(event)


class LoginDialog(_FormDialog):
    """用户名 + 密码; Enter logs in. ``session`` holds the result after accept().

    Made without ``accounts`` it can be shown before the workstation is open: the clerk
    types meanwhile, and a login submitted early waits (saying 正在打开数据库…) until
    :meth:`attach` hands over the account service, then runs.
    """

    ready = Signal()   # attach() was called: a login can run now

    def __init__(self, accounts: AccountService | None, site_name: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._accounts = accounts
        self._waiting: tuple[str, str] | None = None   # submitted before attach()
        self.setWindowTitle("一窗通 — 登录")
        self.setMinimumWidth(380)
        title = QLabel("一窗通 综合窗口")
        title.setObjectName("title")
        self.site = QLabel(site_name)
        self.site.setObjectName("subtitle")
        # Its line is kept while the name is unknown: the dialog must not jump under
        # the clerk's eyes when it arrives.
        self.site.setMinimumHeight(self.site.fontMetrics().height())
        self.username = QLineEdit()
        self.username.setPlaceholderText("工号或用户名")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.buttons = self._lay_out([title, self.site],
                                     [("用户名", self.username), ("密码", self.password)],
                                     [], ok="登录", cancel="退出")

    @property
    def is_ready(self) -> bool:
        return self._accounts is not None

    def attach(self, accounts: AccountService, site_name: str) -> None:
        """The workstation is open: log in against ``accounts`` from now on, and run the
        login the clerk already submitted, if any."""
        self._accounts = accounts
        self.site.setText(site_name)
        self.ready.emit()
        if self._waiting is not None:
            user, pw = self._waiting
            self._waiting = None
            self._log_in(accounts, user, pw)

    def _submit(self) -> None:
        user, pw = self.username.text(), self.password.text()
        if not user.strip():
            self.error.setText("请输入用户名。")
            self.username.setFocus()
            return
        if not pw:
            self.error.setText("请输入密码。")
            self.password.setFocus()
            return
        if self._accounts is None:
            # Held, not refused: the clerk typed faster than the database opened.
            self._waiting = (user, pw)
            self._say_progress(WAITING_FOR_DATABASE)
            self.setEnabled(False)
            return
        self._log_in(self._accounts, user, pw)

    def _log_in(self, accounts: AccountService, user: str, pw: str) -> None:
        self._run("正在登录…", lambda: accounts.login(user, pw))

    def _failed(self, exc: Exception) -> None:
        # Account errors (LoginError…) are UserErrors: their message is for the clerk.
        self.error.setText(str(exc) if isinstance(exc, UserError) else f"登录失败：{exc}")
        self.password.clear()
        self.password.setFocus()


class ChangePasswordDialog(_FormDialog):
    """Forced at first login (and available from the menu): old, new, confirm."""

    def __init__(self, accounts: AccountService, session: ClerkSession, *, forced: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._accounts = accounts
        self._session = session
        self.setWindowTitle("修改密码")
        self.setMinimumWidth(400)
        intro = QLabel("首次登录请修改初始密码。" if forced else "请输入原密码和新密码。")
        hint = QLabel("新密码至少8位，须同时包含字母和数字，不能包含用户名。")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        self.old, self.new, self.confirm = QLineEdit(), QLineEdit(), QLineEdit()
        for field in (self.old, self.new, self.confirm):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        self._lay_out([intro], [("原密码", self.old), ("新密码", self.new),
                                ("确认新密码", self.confirm)], [hint],
                      ok="确定", cancel="退出" if forced else "取消")

    def _submit(self) -> None:
        old, new, confirm = self.old.text(), self.new.text(), self.confirm.text()
        if new != confirm:
            self.error.setText("两次输入的新密码不一致。")
            self.confirm.clear()
            self.confirm.setFocus()
            return
        self._run("正在保存…",
                  lambda: self._accounts.change_password(self._session.user_id, old, new))

    def _failed(self, exc: Exception) -> None:
        # LoginError (wrong old password), PasswordPolicyError… are UserErrors.
        self.error.setText(str(exc) if isinstance(exc, UserError) else f"修改失败：{exc}")
        self.new.clear()
        self.confirm.clear()
        (self.old if "原密码" in str(exc) else self.new).setFocus()
