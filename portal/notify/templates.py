"""Message templates: built-in texts (version 0) and the manager's saved versions.

A placeholder is `{name}`. Each template key has a fixed set of placeholders (the common ones
and those its callers supply); a text using any other is refused with a clear error, so a typo
never reaches an owner as a literal "{amout}". A context value `foo_fen` (integer fen) also
fills `{foo}` formatted as yuan, and `foo_en` replaces `foo` in the English text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit import service as audit
from portal.errors import DomainError
from portal.money import format_fen
from portal.notify.models import MessageTemplate

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
COMMON = ("name", "community", "unit", "hotline")
LANGUAGES = ("zh", "en")
MAX_BODY = 2000


@dataclass(frozen=True)
class Builtin:
    placeholders: tuple[str, ...]
    subject_zh: str
    body_zh: str
    subject_en: str
    body_en: str
    sample: dict[str, Any]


BUILTIN: dict[str, Builtin] = {
    "bill_issued": Builtin(
        ("period", "amount", "due_date", "pay_url", "spending_line", "spending_url"),
        "{period} 物业费账单已出",
        "尊敬的{name}业主，您好！{community}{unit} {period} 物业费账单已出，应缴 {amount}，"
        "请于 {due_date} 前缴纳：{pay_url}\n{spending_line} 详见：{spending_url}\n"
        "如有疑问请致电 {hotline}，感谢您的支持。",
        "Your {period} property fee bill",
        "Dear {name}, the {period} property fee bill for {unit}, {community} is ready: "
        "{amount}, due by {due_date}. Pay online: {pay_url}\n{spending_line} Details: "
        "{spending_url}\nQuestions? Call {hotline}. Thank you.",
        {
            "period": "2026-12",
            "amount_fen": 25035,
            "due_date": "2026-12-16",
            "pay_url": "http://127.0.0.1:5000/bills",
            "spending_line": "上月物业费主要用于：保洁 ¥12,300.00、秩序维护 ¥9,800.00。",
            "spending_line_en": "Last month the fees paid mainly for cleaning and security.",
            "spending_url": "http://127.0.0.1:5000/c/DEMO1/spending",
        },
    ),
    "due_soon": Builtin(
        ("period", "amount", "due_date", "pay_url"),
        "物业费将于 {due_date} 到期",
        "尊敬的{name}业主，温馨提示：{unit} {period} 物业费 {amount} 将于 {due_date} 到期，"
        "如已缴纳请忽略。在线缴费：{pay_url}",
        "Property fee due on {due_date}",
        "Dear {name}, a friendly reminder: the {period} property fee of {amount} for {unit} "
        "is due on {due_date}. Please ignore this if you have paid. Pay online: {pay_url}",
        {
            "period": "2026-11",
            "amount_fen": 25035,
            "due_date": "2026-11-23",
            "pay_url": "http://127.0.0.1:5000/bills",
        },
    ),
    "overdue_l1": Builtin(
        ("period", "amount", "due_date", "days_overdue", "pay_url"),
        "物业费缴纳提醒",
        "尊敬的{name}业主，您好！{unit} {period} 物业费 {amount} 已于 {due_date} 到期，"
        "可能是您一时忘记了。方便时请缴纳：{pay_url}\n如对账单有疑问，欢迎致电 {hotline}。",
        "A reminder about your property fee",
        "Dear {name}, the {period} property fee of {amount} for {unit} was due on "
        "{due_date}; perhaps it slipped your mind. Please pay when convenient: {pay_url}\n"
        "If anything on the bill looks wrong, call us on {hotline}.",
        {
            "period": "2026-10",
            "amount_fen": 25035,
            "due_date": "2026-10-16",
            "days_overdue": "5",
            "pay_url": "http://127.0.0.1:5000/bills",
        },
    ),
    "autodebit_succeeded": Builtin(
        ("period", "amount", "account", "receipt_url"),
        "物业费代扣成功",
        "尊敬的{name}业主，{unit} {period} 物业费 {amount} 已从您的账户 {account} 代扣成功。"
        "电子收据：{receipt_url}",
        "Auto-debit succeeded",
        "Dear {name}, {amount} for the {period} property fee of {unit} was debited from "
        "{account}. Receipt: {receipt_url}",
        {
            "period": "2026-11",
            "amount_fen": 25035,
            "account": "**** 1234",
            "receipt_url": "http://127.0.0.1:5000/receipts",
        },
    ),
    "autodebit_failed": Builtin(
        ("period", "amount", "cap", "due_date", "pay_url"),
        "物业费未能代扣",
        "尊敬的{name}业主，{unit} {period} 物业费 {amount} 超过您设定的每期代扣上限 {cap}，"
        "本期未代扣。请于 {due_date} 前在线缴纳：{pay_url}，或调整代扣上限。",
        "Auto-debit not made",
        "Dear {name}, the {period} property fee of {amount} for {unit} is above the "
        "auto-debit limit you set ({cap}), so it was not debited. Please pay by {due_date}: "
        "{pay_url}, or change the limit.",
        {
            "period": "2026-11",
            "amount_fen": 25035,
            "cap_fen": 20000,
            "due_date": "2026-11-23",
            "pay_url": "http://127.0.0.1:5000/bills",
        },
    ),
    "notice_published": Builtin(
        ("title", "summary", "notice_url"),
        "{community}公告：{title}",
        "尊敬的{name}业主，{community}发布了公告《{title}》。{summary}\n详情：{notice_url}",
        "Notice from {community}: {title}",
        "Dear {name}, {community} has published a notice: “{title}”. {summary}\n"
        "Details: {notice_url}",
        {
            "title": "B区2号楼停水检修通知",
            "summary": "停水时间：12月3日 09:00–15:00。",
            "summary_en": "Water off: 3 Dec 09:00–15:00.",
            "notice_url": "http://127.0.0.1:5000/c/DEMO1/notices",
        },
    ),
    "ticket_updated": Builtin(
        ("number", "status", "note", "ticket_url"),
        "报修 {number} {status}",
        "尊敬的{name}业主，您的报修 {number} {status}。{note}\n查看进度：{ticket_url}",
        "Repair {number}: {status}",
        "Dear {name}, your repair request {number}: {status}. {note}\nFollow it: {ticket_url}",
        {
            "number": "DEMO1-00042",
            "status": "已派单给维修师傅",
            "status_en": "assigned to an engineer",
            "note": "",
            "ticket_url": "http://127.0.0.1:5000/tickets",
        },
    ),
    "dispute_answered": Builtin(
        ("number", "summary", "dispute_url"),
        "您的异议已有答复",
        "尊敬的{name}业主，您提出的异议（{number}）已有答复：{summary}\n"
        "请查看并选择接受或不接受：{dispute_url}",
        "Your objection has been answered",
        "Dear {name}, your objection ({number}) has an answer: {summary}\n"
        "Please read it and accept or decline: {dispute_url}",
        {
            "number": "#12",
            "summary": "经核实面积有误，拟退还 ¥80.00。",
            "dispute_url": "http://127.0.0.1:5000/disputes",
        },
    ),
    "survey_invite": Builtin(
        ("title", "closes_on", "survey_url"),
        "邀请您参与：{title}",
        "尊敬的{name}业主，诚邀您参与《{title}》，约 2 分钟，{closes_on} 截止：{survey_url}",
        "Invitation: {title}",
        "Dear {name}, you are invited to take part in “{title}” (about 2 minutes, closes "
        "{closes_on}): {survey_url}",
        {
            "title": "2026 年度物业服务满意度调查",
            "closes_on": "2026-12-31",
            "survey_url": "http://127.0.0.1:5000/",
        },
    ),
    "vote_invite": Builtin(
        ("title", "closes_on", "vote_url"),
        "业主表决：{title}",
        "尊敬的{name}业主，{community}业主表决《{title}》正在进行，{closes_on} 截止，"
        "每户一票，请在手机上投票：{vote_url}",
        "Owners' vote: {title}",
        "Dear {name}, the owners of {community} are voting on “{title}” until {closes_on}; "
        "one vote per unit. Vote on your phone: {vote_url}",
        {
            "title": "关于使用专项维修资金更换 3 号楼电梯的表决",
            "closes_on": "2026-12-15 20:00",
            "vote_url": "http://127.0.0.1:5000/",
        },
    ),
    "collections_tier": Builtin(
        ("period", "amount", "tier", "deadline", "pay_url"),
        "物业费欠缴提醒",
        "尊敬的{name}业主，{unit} 截至目前有 {period} 物业费 {amount} 尚未缴纳，"
        "请于 {deadline} 前缴纳：{pay_url}。如有困难或疑问，请致电 {hotline}，我们可以商量分期。",
        "Property fee arrears",
        "Dear {name}, {amount} of property fees for {unit} ({period}) remain unpaid. Please "
        "pay by {deadline}: {pay_url}. If you are having difficulty or have questions, call "
        "{hotline}; we can agree instalments.",
        {
            "period": "2026-08 – 2026-10",
            "amount_fen": 75105,
            "tier": "L1",
            "deadline": "2026-12-10",
            "pay_url": "http://127.0.0.1:5000/bills",
        },
    ),
    "plan_proposed": Builtin(
        ("total", "instalments", "first_due", "plan_url"),
        "分期缴费方案待您确认",
        "尊敬的{name}业主，按您的情况，我们为{unit}拟定了分期缴费方案：共 {total}，"
        "分 {instalments} 期，第一期 {first_due}。确认后即按方案缴纳，期间不再催缴：{plan_url}"
        "\n如需调整请致电 {hotline}。",
        "A payment plan for you to accept",
        "Dear {name}, we have drawn up a payment plan for {unit}: {total} in {instalments} "
        "instalments, the first on {first_due}. Once you accept it, no reminders are sent while "
        "it is kept: {plan_url}\nTo change it, call {hotline}.",
        {
            "total_fen": 150000,
            "instalments": 3,
            "first_due": "2026-12-15",
            "plan_url": "http://127.0.0.1:5000/collections/my-plans",
        },
    ),
    "written_notice": Builtin(
        ("period", "amount", "deadline", "basis", "pay_url"),
        "物业服务费催缴通知书",
        "{name} 业主：\n您名下 {community}{unit} 房屋 {period} 的物业服务费共计 {amount} "
        "尚未缴纳。依据{basis}，请您于 {deadline} 前缴纳。缴费方式：在线缴费 {pay_url}，"
        "或到物业服务中心办理。如对费用有异议，请在期限内书面提出，我们将认真核实。\n"
        "联系电话：{hotline}",
        "Written notice of unpaid property fees",
        "To {name}:\nThe property service fees of {amount} for {unit}, {community} "
        "({period}) remain unpaid. Under {basis}, please pay by {deadline}, online at "
        "{pay_url} or at the management office. If you dispute the charge, please tell us "
        "in writing within that time and we will look into it.\nTelephone: {hotline}",
        {
            "period": "2026-05 – 2026-08",
            "amount_fen": 100140,
            "deadline": "2026-12-15",
            "basis": "《物业服务合同》第五条",
            "pay_url": "http://127.0.0.1:5000/bills",
        },
    ),
    "receipt": Builtin(
        ("receipt_no", "amount", "receipt_url"),
        "缴费成功",
        "尊敬的{name}业主，您已成功缴纳 {amount}，收据号 {receipt_no}：{receipt_url}",
        "Payment received",
        "Dear {name}, we have received your payment of {amount}, receipt {receipt_no}: "
        "{receipt_url}",
        {
            "receipt_no": "DEMO1-2026-000123",
            "amount_fen": 25035,
            "receipt_url": "http://127.0.0.1:5000/",
        },
    ),
    "welcome": Builtin(
        ("settings_url",),
        "欢迎使用明账",
        "尊敬的{name}业主，欢迎使用明账。账单、缴费、报修和公告都会在这里通知您。"
        "请核对您的联系方式，并选择接收通知的方式：{settings_url}",
        "Welcome to Clearfee",
        "Dear {name}, welcome to Clearfee. We will tell you here about bills, payments, "
        "repairs and notices. Please check your contact details and choose how you hear "
        "from us: {settings_url}",
        {"settings_url": "http://127.0.0.1:5000/notify/settings"},
    ),
}

SAMPLE_COMMON = {
    "name": "王先生",
    "community": "明账花园",
    "unit": "A-1-1201",
    "hotline": "021-5888 1234",
}


@dataclass(frozen=True)
class TemplateText:
    key: str
    version: int  # 0 = the built-in text
    subject_zh: str
    body_zh: str
    subject_en: str
    body_en: str

    def parts(self, language: str) -> tuple[str, str]:
        if language == "en":
            return self.subject_en, self.body_en
        return self.subject_zh, self.body_zh


def allowed_placeholders(key: str) -> tuple[str, ...]:
    """The placeholders a template may use."""
    builtin = BUILTIN.get(key)
    if builtin is None:
        raise DomainError(_l("没有这个通知模板：%(key)s", key=key), code="unknown_template")
    return COMMON + builtin.placeholders


def check_text(key: str, text: str, *, field: str) -> None:
    """Refuse a text that uses a placeholder the template does not know."""
    allowed = set(allowed_placeholders(key))
    unknown = sorted({name for name in PLACEHOLDER.findall(text) if name not in allowed})
    if unknown:
        raise DomainError(
            _l(
                "未知的占位符：%(names)s。可用：%(allowed)s",
                names="、".join("{" + n + "}" for n in unknown),
                allowed="、".join("{" + n + "}" for n in allowed_placeholders(key)),
            ),
            field=field,
            code="unknown_placeholder",
        )


def current(session: Session, key: str) -> TemplateText:
    """The template's latest saved version, else its built-in text."""
    builtin = BUILTIN.get(key)
    if builtin is None:
        raise DomainError(_l("没有这个通知模板：%(key)s", key=key), code="unknown_template")
    row = session.scalar(
        select(MessageTemplate)
        .where(MessageTemplate.key == key)
        .order_by(MessageTemplate.version.desc())
        .limit(1)
    )
    if row is None:
        return TemplateText(
            key, 0, builtin.subject_zh, builtin.body_zh, builtin.subject_en, builtin.body_en
        )
    return TemplateText(key, row.version, row.subject_zh, row.body_zh, row.subject_en, row.body_en)


def history(session: Session, key: str) -> list[MessageTemplate]:
    """Saved versions, newest first."""
    return list(
        session.scalars(
            select(MessageTemplate)
            .where(MessageTemplate.key == key)
            .order_by(MessageTemplate.version.desc())
        )
    )


def _values(context: dict[str, Any], language: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in context.items():
        if name.endswith("_fen") and isinstance(value, int) and not isinstance(value, bool):
            values.setdefault(name[: -len("_fen")], format_fen(value))
        if not name.endswith("_en"):
            values[name] = "" if value is None else str(value)
    if language == "en":
        for name, value in context.items():
            if name.endswith("_en") and value:
                values[name[: -len("_en")]] = str(value)
    return values


def fill(text: str, context: dict[str, Any], language: str) -> str:
    """Replace each {placeholder}; one the context lacks becomes empty (never left raw)."""
    return _fill(text, _values(context, language))


def _fill(text: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), text).strip()


def render(template: TemplateText, context: dict[str, Any], language: str) -> tuple[str, str]:
    """(subject, body) of a template in a language."""
    subject, body = template.parts(language)
    values = _values(context, language)
    return _fill(subject, values), _fill(body, values)


def sample_context(key: str, **real: Any) -> dict[str, Any]:
    """A preview context: the built-in example values with a real owner's details on top."""
    builtin = BUILTIN[key]
    return {**SAMPLE_COMMON, **builtin.sample, **{k: v for k, v in real.items() if v}}


def save_version(
    session: Session,
    *,
    key: str,
    subject_zh: str,
    body_zh: str,
    subject_en: str,
    body_en: str,
    note: str,
    actor_id: int,
    now: datetime,
) -> MessageTemplate:
    """Save a new version of a template (never edits an old one); placeholders are checked."""
    allowed_placeholders(key)
    fields = {
        "subject_zh": (subject_zh or "").strip(),
        "body_zh": (body_zh or "").strip(),
        "subject_en": (subject_en or "").strip(),
        "body_en": (body_en or "").strip(),
    }
    for name in ("body_zh", "body_en"):
        if not fields[name]:
            raise DomainError(_l("正文不能为空"), field=name, code="required")
        if len(fields[name]) > MAX_BODY:
            raise DomainError(_l("正文不能超过 2000 字"), field=name)
    for name in ("subject_zh", "subject_en"):
        if len(fields[name]) > 200:
            raise DomainError(_l("标题不能超过 200 字"), field=name)
    for name, text in fields.items():
        check_text(key, text, field=name)
    version = (
        session.scalar(select(func.max(MessageTemplate.version)).where(MessageTemplate.key == key))
        or 0
    ) + 1
    row = MessageTemplate(
        key=key,
        version=version,
        note=(note or "").strip()[:200],
        created_by_id=actor_id,
        created_at=now,
        **fields,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        action="notify.template_version",
        target_type="notify_template",
        target_id=row.id,
        community_id=None,
        now=now,
        details={"key": key, "version": version},
    )
    return row
