from __future__ import annotations

from datetime import timedelta

import segno
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import update

from portal.accounts import service, sessions, two_factor
from portal.accounts.forms import ConfirmForm, LoginForm, PasswordChangeForm, TwoFactorForm
from portal.accounts.models import User, UserSession
from portal.audit import service as audit
from portal.errors import DomainError
from portal.extensions import db, limiter, login_manager
from portal.forms import attach_error
from portal.security import is_public_endpoint, public, safe_next
from portal.timeutil import now_utc

bp = Blueprint("accounts", __name__)


def timeouts() -> sessions.Timeouts:
    config = current_app.config
    return sessions.Timeouts(
        idle=timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
        absolute=timedelta(hours=config["SESSION_ABSOLUTE_HOURS"]),
        remember_idle=timedelta(days=config["REMEMBER_IDLE_DAYS"]),
        remember_absolute=timedelta(days=config["REMEMBER_ABSOLUTE_DAYS"]),
    )


@login_manager.user_loader
def load_user(session_token: str) -> User | None:
    """The session cookie (or remember cookie) holds a server-side session id; an ended or
    timed-out session loads nobody, whatever the cookie says."""
    now = now_utc()
    row = sessions.resolve_session(db.session, token=session_token, now=now, timeouts=timeouts())
    if row is None:
        return None
    if sessions.needs_touch(row, now=now):
        # Its own short transaction: the request's session may never commit (GET pages).
        with db.engine.begin() as conn:
            conn.execute(
                update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now)
            )
    return row.user


login_manager.login_view = "accounts.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "info"


def _login_failed() -> bool:
    return bool(g.get("login_failed"))


def _posted_username() -> str:
    return "user:" + (request.form.get("username", "").strip().lower()[:64])


def _login_limit() -> str:
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
        elif two_factor.is_enrolled(db.session, user) and not two_factor.verify(
            db.session, user=user, code=form.totp.data or "", now=now_utc()
        ):
            g.login_failed = True  # a wrong second factor counts like a wrong password
            db.session.rollback()
            form.totp.errors = [_("请输入认证器应用中的动态验证码（或一个恢复码）")]
        else:
            now = now_utc()
            remember = bool(form.remember.data)
            row = sessions.start_session(
                db.session,
                user=user,
                now=now,
                ip=request.remote_addr or "",
                user_agent=request.user_agent.string,
                remember=remember,
            )
            if two_factor.is_enrolled(db.session, user):
                row.two_factor_at = now
            if user.is_staff:  # who reached personal data, when and from where
                audit.record(
                    db.session,
                    actor_id=user.id,
                    action="accounts.login",
                    target_type="user",
                    target_id=user.id,
                    community_id=None,
                    now=now,
                    details={"ip": row.ip, "two_factor": row.two_factor_at is not None},
                )
            db.session.commit()
            session.clear()  # a fresh cookie at log-in (no fixation of a planted session)
            login_user(user, remember=remember)
            flash(_("欢迎回来，%(name)s", name=user.display_name), "success")
            target = safe_next(form.next.data) or url_for("site.index")
            if _second_factor_missing(user):
                return redirect(url_for("accounts.two_factor_page", next=target))
            return redirect(target)
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> ResponseReturnValue:
    _end_current_session()
    logout_user()
    flash(_("您已退出登录"), "info")
    return redirect(url_for("site.index"))


def _account_key() -> str:
    return f"pw-user:{current_user.id}" if current_user.is_authenticated else "pw-user:"


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit(
    _login_limit, methods=["POST"], key_func=_account_key, deduct_when=lambda r: _login_failed()
)
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
                keep_session_id=_current_session_id(),
            )
        except DomainError as exc:
            db.session.rollback()
            g.login_failed = exc.field == "current_password"  # guessing the password counts
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("密码已修改，其他设备已退出登录"), "success")
            return redirect(url_for("accounts.account"))
    return render_template("accounts/password_change.html", form=form)


def _current_session_id() -> int | None:
    row = getattr(current_user, "current_session", None)
    return row.id if row is not None else None


def _end_current_session() -> None:
    session_id = _current_session_id()
    if session_id is not None:
        sessions.revoke_session(db.session, user=current_user, session_id=session_id, now=now_utc())
        db.session.commit()


@bp.route("/account")
@login_required
def account() -> ResponseReturnValue:
    now = now_utc()
    return render_template(
        "accounts/account.html",
        sessions=sessions.live_sessions(
            db.session, user=current_user, now=now, timeouts=timeouts()
        ),
        tokens=sessions.live_tokens(db.session, user=current_user, now=now),
        two_factor_link=url_for("accounts.two_factor_page"),
        current_id=_current_session_id(),
        form=ConfirmForm(),
    )


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def session_end(session_id: int) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    current_id = _current_session_id()
    if not sessions.revoke_session(
        db.session, user=current_user, session_id=session_id, now=now_utc()
    ):
        abort(404)  # not theirs, or already ended
    db.session.commit()
    if session_id == current_id:
        logout_user()
        flash(_("您已退出登录"), "info")
        return redirect(url_for("accounts.login"))
    flash(_("已结束该设备的登录"), "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/sessions/end-all", methods=["POST"])
@login_required
def session_end_all() -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    sessions.revoke_all(db.session, user_id=current_user.id, now=now_utc())
    db.session.commit()
    logout_user()
    flash(_("已在所有设备上退出登录"), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def token_revoke(token_id: int) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not sessions.revoke_token(db.session, user=current_user, token_id=token_id, now=now_utc()):
        abort(404)
    db.session.commit()
    flash(_("访问令牌已作废"), "success")
    return redirect(url_for("accounts.account"))


def _second_factor_missing(user: User) -> bool:
    """A user whose role needs two-factor, in a session that has not passed it."""
    if not two_factor.required_for(user, current_app.config["TWO_FACTOR_ROLES"]):
        return False
    row = user.current_session
    return row is None or row.two_factor_at is None


# Reachable before the second factor: enrolment itself, logging out, and what needs no log-in.
TWO_FACTOR_EXEMPT = frozenset(
    {"accounts.two_factor_page", "accounts.logout", "accounts.login", "site.set_language"}
)


@bp.before_app_request
def require_second_factor() -> ResponseReturnValue | None:
    if request.blueprint in ("api", "open311") or request.endpoint in TWO_FACTOR_EXEMPT:
        return None
    if is_public_endpoint(request.endpoint) or not current_user.is_authenticated:
        return None
    if _second_factor_missing(current_user):
        return redirect(url_for("accounts.two_factor_page", next=request.full_path.rstrip("?")))
    return None


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def two_factor_page() -> ResponseReturnValue:
    form = TwoFactorForm()
    now = now_utc()
    row = two_factor.get(db.session, current_user)
    verified = current_user.current_session is not None and (
        current_user.current_session.two_factor_at is not None
    )
    target = safe_next(request.args.get("next")) or url_for("site.index")
    if form.validate_on_submit():
        if row is not None and row.confirmed_at is None:
            try:
                codes = two_factor.confirm_enrolment(
                    db.session, user=current_user, code=form.code.data, now=now
                )
            except DomainError as exc:
                db.session.rollback()
                attach_error(form, exc)
            else:
                current_user.current_session.two_factor_at = now
                db.session.commit()
                flash(_("两步验证已启用"), "success")
                return render_template("accounts/recovery_codes.html", codes=codes, next_url=target)
        elif row is not None and two_factor.verify(
            db.session, user=current_user, code=form.code.data, now=now
        ):
            current_user.current_session.two_factor_at = now
            if verified:  # already through: a fresh code asks for new recovery codes
                codes = two_factor.new_recovery_codes(db.session, user=current_user, now=now)
                db.session.commit()
                return render_template("accounts/recovery_codes.html", codes=codes, next_url=target)
            db.session.commit()
            return redirect(target)
        else:
            db.session.rollback()
            form.code.errors = [_("动态验证码不正确")]
    if row is None:
        row = two_factor.begin_enrolment(db.session, user=current_user, now=now)
        db.session.commit()
    qr = None
    if row.confirmed_at is None:
        uri = two_factor.provisioning_uri(row, current_user)
        qr = segno.make(uri, error="m").svg_data_uri(scale=4)
    return render_template(
        "accounts/two_factor.html",
        form=form,
        row=row,
        qr=qr,
        verified=verified,
        remaining=two_factor.remaining_recovery_codes(db.session, current_user),
    )
