from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from portal.accounts import service
from portal.accounts.forms import LoginForm, PasswordChangeForm
from portal.accounts.models import User
from portal.errors import DomainError
from portal.extensions import db, limiter, login_manager
from portal.forms import attach_error
from portal.security import public, safe_next
from portal.timeutil import now_utc

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


login_manager.login_view = "accounts.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "info"


def _login_failed() -> bool:
    return bool(g.get("login_failed"))


def _posted_username() -> str:
    return "user:" + (request.form.get("username", "").strip().lower()[:64])


def _login_limit() -> str:
    from flask import current_app

    return str(current_app.config["LOGIN_RATE_LIMIT"])


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"], deduct_when=lambda r: _login_failed())
@limiter.limit(
    _login_limit, methods=["POST"], key_func=_posted_username, deduct_when=lambda r: _login_failed()
)
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("site.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = service.authenticate(
            db.session, username=form.username.data, password=form.password.data
        )
        if user is None:
            g.login_failed = True
            db.session.rollback()
            form.form_errors.append(_("用户名或密码不正确"))
        else:
            db.session.commit()  # a rehash on log-in is the only possible write
            login_user(user, remember=bool(form.remember.data))
            flash(_("欢迎回来，%(name)s", name=user.display_name), "success")
            return redirect(safe_next(form.next.data) or url_for("site.index"))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> ResponseReturnValue:
    logout_user()
    flash(_("您已退出登录"), "info")
    return redirect(url_for("site.index"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password_change() -> ResponseReturnValue:
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            service.change_password(
                db.session,
                user=current_user,
                current=form.current_password.data,
                new=form.new_password.data,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("密码已修改"), "success")
            return redirect(url_for("site.index"))
    return render_template("accounts/password_change.html", form=form)
