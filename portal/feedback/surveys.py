"""Surveys: created for a community (or some of its buildings), owners invited through the
outbox, answered once per unit, results per question and building, k-anonymous (k = 5)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User
from portal.audit import service as audit
from portal.communities import service as communities
from portal.communities.models import Building, Community, Ownership, Unit
from portal.errors import Conflict, DomainError, NotFound, PermissionDenied
from portal.feedback import recovery
from portal.feedback.models import (
    QuestionKind,
    Survey,
    SurveyAnswer,
    SurveyKind,
    SurveyQuestion,
    SurveyResponse,
    SurveyStatus,
)
from portal.notify import service as notify
from portal.notify.models import Category, Reason
from portal.pagination import Page, paginate
from portal.timeutil import to_local, zone

K_ANONYMITY = 5  # no figure of a group with fewer answers (DESIGN.md §2)
SURVEY_ROLES = ("cs", "manager")
MAX_QUESTIONS = 40
MAX_TEXT = 1000

# The dimensions of the annual survey (issue 12); a rating question may carry one.
DIMENSIONS: dict[str, Any] = {
    "cleaning": _l("保洁"),
    "security": _l("安保"),
    "greening": _l("绿化"),
    "repairs": _l("维修"),
    "customer_service": _l("客服"),
    "transparency": _l("收支透明"),
    "value": _l("性价比"),
}
STANDARD_QUESTIONS: list[tuple[str, str]] = [
    ("cleaning", "您对小区保洁的满意程度"),
    ("security", "您对小区安保的满意程度"),
    ("greening", "您对绿化养护的满意程度"),
    ("repairs", "您对报修处理的满意程度"),
    ("customer_service", "您对客服服务的满意程度"),
    ("transparency", "您对物业费收支公开的满意程度"),
    ("value", "您觉得物业费物有所值吗"),
]


@dataclass(frozen=True)
class QuestionSpec:
    kind: str
    text: str
    options: tuple[str, ...] = ()
    dimension: str = ""
    required: bool = True


_PREFIXES = {
    "评分": QuestionKind.RATING,
    "rating": QuestionKind.RATING,
    "选择": QuestionKind.CHOICE,
    "choice": QuestionKind.CHOICE,
    "文字": QuestionKind.TEXT,
    "text": QuestionKind.TEXT,
}


def parse_questions(text: str) -> list[QuestionSpec]:
    """Questions from the form, one a line: `评分|问题[|维度]`, `选择|问题|A,B`, `文字|问题`."""
    specs = []
    for number, raw in enumerate((text or "").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        parts = [p.strip() for p in re.split(r"[|｜]", line)]
        kind = _PREFIXES.get(parts[0].lower())
        if kind is None or len(parts) < 2:
            raise DomainError(
                _l("第 %(n)s 行：请以“评分|”“选择|”或“文字|”开头", n=number),
                field="questions",
                code="bad_question",
            )
        options: tuple[str, ...] = ()
        dimension = ""
        if kind == QuestionKind.CHOICE:
            listed = parts[2] if len(parts) > 2 else ""
            options = tuple(o.strip() for o in re.split(r"[,，、]", listed) if o.strip())
        elif kind == QuestionKind.RATING and len(parts) > 2:
            dimension = parts[2]
        specs.append(QuestionSpec(kind=kind, text=parts[1], options=options, dimension=dimension))
    return specs


def standard_questions() -> list[QuestionSpec]:
    """The annual survey's seven dimension questions and an open comment."""
    return [
        QuestionSpec(kind=QuestionKind.RATING, text=text, dimension=dim)
        for dim, text in STANDARD_QUESTIONS
    ] + [QuestionSpec(kind=QuestionKind.TEXT, text="您还有什么意见或建议？", required=False)]


def can_manage(user: User, community_id: int) -> bool:
    return user.is_admin or community_id in user.community_ids(*SURVEY_ROLES)


def _check_questions(questions: list[QuestionSpec]) -> None:
    if not questions:
        raise DomainError(_l("问卷至少需要一个问题"), field="questions", code="no_questions")
    if len(questions) > MAX_QUESTIONS:
        raise DomainError(
            _l("问卷最多 %(n)s 个问题", n=MAX_QUESTIONS), field="questions", code="too_many"
        )
    for number, q in enumerate(questions, 1):
        if q.kind not in set(QuestionKind):
            raise DomainError(_l("第 %(n)s 题：题型无效", n=number), field="questions")
        if not q.text.strip() or len(q.text) > 255:
            raise DomainError(
                _l("第 %(n)s 题：题目不能为空且不超过 255 字", n=number), field="questions"
            )
        if q.kind == QuestionKind.CHOICE and len(set(q.options)) < 2:
            raise DomainError(
                _l("第 %(n)s 题：选择题至少需要两个不同的选项", n=number), field="questions"
            )
        if q.dimension and q.dimension not in DIMENSIONS:
            raise DomainError(
                _l("第 %(n)s 题：未知的维度 %(d)s", n=number, d=q.dimension), field="questions"
            )


def create_survey(
    session: Session,
    *,
    staff: User,
    community: Community,
    title: str,
    closes_at: datetime,
    questions: list[QuestionSpec],
    now: datetime,
    kind: str = SurveyKind.PULSE,
    building_ids: list[int] | None = None,
    intro: str = "",
) -> Survey:
    """Open a survey (checked fully first: questions, buildings, closing time); audited."""
    if not can_manage(staff, community.id):
        raise PermissionDenied(_l("只有客服或管理处负责人可以发起调查"))
    title = (title or "").strip()
    if not title or len(title) > 120:
        raise DomainError(_l("标题不能为空且不超过 120 字"), field="title")
    if kind not in set(SurveyKind):
        raise DomainError(_l("调查类型无效"), field="kind")
    _check_questions(questions)
    if closes_at <= now:
        raise DomainError(_l("截止时间必须晚于现在"), field="closes_on", code="closes_in_past")
    chosen = sorted(set(building_ids or []))
    if chosen:
        found = set(
            session.scalars(
                select(Building.id).where(
                    Building.id.in_(chosen), Building.community_id == community.id
                )
            )
        )
        if found != set(chosen):
            raise DomainError(_l("楼栋不属于本小区"), field="building_ids")
    survey = Survey(
        community_id=community.id,
        title=title,
        kind=kind,
        status=SurveyStatus.OPEN,
        building_ids=chosen or None,
        intro=(intro or "").strip()[:2000],
        opens_at=now,
        closes_at=closes_at,
        created_by_id=staff.id,
        created_at=now,
    )
    session.add(survey)
    session.flush()
    for position, q in enumerate(questions):
        session.add(
            SurveyQuestion(
                survey_id=survey.id,
                code=f"q{position + 1}",
                position=position,
                kind=q.kind,
                text=q.text.strip(),
                dimension=q.dimension,
                options=list(dict.fromkeys(q.options)),
                required=q.required and q.kind != QuestionKind.TEXT,
            )
        )
    session.flush()
    audit.record(
        session,
        actor_id=staff.id,
        action="survey.create",
        target_type="survey",
        target_id=survey.id,
        community_id=community.id,
        now=now,
        details={"title": title, "questions": len(questions), "buildings": chosen},
    )
    return survey


def _eligible_units(survey: Survey) -> Any:
    query = select(Unit.id).where(Unit.community_id == survey.community_id)
    if survey.building_ids:
        query = query.where(Unit.building_id.in_(survey.building_ids))
    return query


def eligible_unit_count(session: Session, survey: Survey) -> int:
    return session.scalar(select(func.count()).select_from(_eligible_units(survey).subquery())) or 0


def invite_owners(session: Session, *, survey: Survey, now: datetime) -> int:
    """Queue an invitation to each current owner of an eligible unit (idempotent per unit)."""
    community = survey.community
    closes_on = to_local(survey.closes_at, zone(community.timezone)).date().isoformat()
    rows = session.execute(
        select(User, Unit)
        .join(Ownership, Ownership.user_id == User.id)
        .join(Unit, Unit.id == Ownership.unit_id)
        .where(Ownership.ended_on.is_(None), Unit.id.in_(_eligible_units(survey)))
        .order_by(Unit.id, User.id)
    ).all()
    context = {
        "title": survey.title,
        "closes_on": closes_on,
        "survey_url": notify.public_url(f"/feedback/surveys/{survey.id}"),
    }
    requests = [
        notify.MessageRequest(
            event_key=f"survey:{survey.id}:unit:{unit.id}",
            recipient=user,
            community_id=survey.community_id,
            unit_id=unit.id,
            reason=Reason.SURVEY_INVITE,
            category=Category.SERVICE,
            template_key="survey_invite",
            context=dict(context),
            related_type="survey",
            related_id=survey.id,
        )
        for user, unit in rows
    ]
    # In batches: a community of 20,000 owners was invited one message at a time.
    return notify.queue_in_batches(session, requests, now=now)


def get_scoped_survey(session: Session, *, staff: User, survey_id: int) -> Survey | None:
    """A survey of a community where the user runs surveys (or the committee reads); else None."""
    survey = session.get(Survey, survey_id)
    if survey is None:
        return None
    if can_manage(staff, survey.community_id) or survey.community_id in staff.community_ids(
        "committee"
    ):
        return survey
    return None


def staff_surveys(
    session: Session, *, community_ids: set[int] | None, page: int = 1, per_page: int = 50
) -> Page[Survey]:
    """The surveys staff may see, newest first, one page at a time (never cut off)."""
    query = select(Survey).order_by(Survey.created_at.desc(), Survey.id.desc())
    if community_ids is not None:
        query = query.where(Survey.community_id.in_(community_ids or {-1}))
    return paginate(session, query, page=page, per_page=per_page)


def _is_open(survey: Survey, now: datetime) -> bool:
    return survey.status == SurveyStatus.OPEN and now < survey.closes_at


def is_open(survey: Survey, now: datetime) -> bool:
    """Owners may still answer: open and before its closing time."""
    return _is_open(survey, now)


@dataclass
class OwnerSurvey:
    survey: Survey
    unit: Unit
    answered: bool


def owner_surveys(session: Session, *, owner: User, now: datetime) -> list[OwnerSurvey]:
    """Open surveys of the owner's units, each with whether that unit has answered."""
    out = []
    for unit in communities.units_of(session, owner):
        surveys = session.scalars(
            select(Survey).where(
                Survey.community_id == unit.community_id,
                Survey.status == SurveyStatus.OPEN,
                Survey.closes_at > now,
            )
        )
        for survey in surveys:
            if survey.building_ids and unit.building_id not in survey.building_ids:
                continue
            answered = session.scalar(
                select(SurveyResponse.id).where(
                    SurveyResponse.survey_id == survey.id, SurveyResponse.unit_id == unit.id
                )
            )
            out.append(OwnerSurvey(survey=survey, unit=unit, answered=answered is not None))
    return out


def published_surveys(session: Session, *, community_id: int) -> list[Survey]:
    """Closed surveys whose results were published to the community's owners."""
    return list(
        session.scalars(
            select(Survey)
            .where(Survey.community_id == community_id, Survey.published_at.is_not(None))
            .order_by(Survey.closes_at.desc())
        )
    )


def _clean_answer(question: SurveyQuestion, value: Any) -> tuple[int | None, str | None, str]:
    """(score, choice, text) for one answer, or a DomainError naming the question."""
    empty = value is None or (isinstance(value, str) and not value.strip())
    if empty:
        if question.required:
            raise DomainError(
                _l("请回答：%(q)s", q=question.text), field=question.code, code="required"
            )
        return None, None, ""
    if question.kind == QuestionKind.RATING:
        score: Any = value
        if isinstance(value, str) and value.strip().isdigit():
            score = int(value.strip())
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise DomainError(
                _l("评分必须是 1 到 5 的整数：%(q)s", q=question.text),
                field=question.code,
                code="out_of_range",
            )
        return score, None, ""
    if question.kind == QuestionKind.CHOICE:
        if not isinstance(value, str) or value not in question.options:
            raise DomainError(
                _l("请从选项中选择：%(q)s", q=question.text), field=question.code, code="bad_choice"
            )
        return None, value, ""
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise DomainError(
            _l("回答不能超过 %(n)s 字", n=MAX_TEXT), field=question.code, code="too_long"
        )
    return None, None, text


def submit_response(
    session: Session,
    *,
    survey_id: int,
    owner: User,
    unit_id: int,
    answers: dict[str, Any],
    now: datetime,
    comment: str = "",
) -> SurveyResponse:
    """Record one unit's answers, once; every answer is checked before anything is written."""
    survey = session.get(Survey, survey_id)
    unit = communities.get_owned_unit(session, user=owner, unit_id=unit_id)
    if survey is None or unit is None or unit.community_id != survey.community_id:
        # Not yours and not existing look the same.
        raise NotFound(_l("调查或房屋不存在"), code="not_found")
    if survey.building_ids and unit.building_id not in survey.building_ids:
        raise PermissionDenied(_l("该调查不包括您的楼栋"), code="not_eligible")
    if not _is_open(survey, now):
        raise Conflict(_l("调查已结束，不能再作答"), code="closed")
    if session.scalar(
        select(SurveyResponse.id).where(
            SurveyResponse.survey_id == survey.id, SurveyResponse.unit_id == unit.id
        )
    ):
        raise Conflict(_l("该房屋已经回答过这份调查"), code="already_answered")
    known = {q.code for q in survey.questions}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise DomainError(
            _l("未知的问题：%(c)s", c=", ".join(unknown)), field="answers", code="unknown_question"
        )
    comment = (comment or "").strip()
    if len(comment) > MAX_TEXT:
        raise DomainError(_l("意见不能超过 %(n)s 字", n=MAX_TEXT), field="comment")
    cleaned = [(q, *_clean_answer(q, answers.get(q.code))) for q in survey.questions]
    scores = [score for _q, score, _c, _t in cleaned if score is not None]
    mean_x100 = (
        int((Decimal(sum(scores) * 100) / len(scores)).quantize(Decimal(1), ROUND_HALF_UP))
        if scores
        else None
    )
    response = SurveyResponse(
        survey_id=survey.id,
        unit_id=unit.id,
        building_id=unit.building_id,
        respondent_id=owner.id,
        mean_x100=mean_x100,
        comment=comment,
        created_at=now,
        period=to_local(now, zone(survey.community.timezone)).strftime("%Y-%m"),
    )
    try:
        with session.begin_nested():  # the unique constraint decides a race of two answers
            session.add(response)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(_l("该房屋已经回答过这份调查"), code="already_answered") from exc
    for question, score, choice, text in cleaned:
        if score is None and choice is None and not text:
            continue
        session.add(
            SurveyAnswer(
                response_id=response.id,
                question_id=question.id,
                score=score,
                choice=choice,
                text=text,
            )
        )
    session.flush()
    if mean_x100 is not None and mean_x100 <= recovery.LOW_SURVEY_X100:
        recovery.recover_unit(session, unit_id=unit.id, now=now, community=survey.community)
    return response


def close_survey(
    session: Session, *, survey: Survey, staff: User, now: datetime, publish: bool = False
) -> None:
    """Close an open survey (compare-and-set); optionally publish its results to owners."""
    if not can_manage(staff, survey.community_id):
        raise PermissionDenied(_l("只有客服或管理处负责人可以结束调查"))
    done = session.execute(
        update(Survey)
        .where(Survey.id == survey.id, Survey.status == SurveyStatus.OPEN)
        .values(status=SurveyStatus.CLOSED, closed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise Conflict(_l("调查已经结束"), code="closed")
    session.refresh(survey)
    if publish:
        publish_results(session, survey=survey, staff=staff, now=now)
    audit.record(
        session,
        actor_id=staff.id,
        action="survey.close",
        target_type="survey",
        target_id=survey.id,
        community_id=survey.community_id,
        now=now,
        details={"publish": publish},
    )


def publish_results(session: Session, *, survey: Survey, staff: User, now: datetime) -> None:
    """Show a closed survey's (k-anonymous) results to the community's owners."""
    if survey.status != SurveyStatus.CLOSED:
        raise Conflict(_l("调查结束后才能公布结果"), code="not_closed")
    if survey.published_at is None:
        survey.published_at = now
        session.flush()
        audit.record(
            session,
            actor_id=staff.id,
            action="survey.publish",
            target_type="survey",
            target_id=survey.id,
            community_id=survey.community_id,
            now=now,
            details={},
        )


# ---------------------------------------------------------------- results


@dataclass
class QuestionResult:
    question: SurveyQuestion
    answers: int
    suppressed: bool
    mean: Decimal | None = None  # rating: 1-5
    score_100: Decimal | None = None  # rating: (mean - 1) / 4 × 100
    counts: dict[str, int] = field(default_factory=dict)  # "1".."5" or option → answers
    texts: list[str] = field(default_factory=list)  # text answers, no names
    by_building: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SurveyResults:
    survey: Survey
    responses: int
    eligible_units: int
    response_rate: Decimal | None
    questions: list[QuestionResult]
    k: int = K_ANONYMITY


def to_100(mean: Decimal) -> Decimal:
    """A 1-5 mean on the 0-100 scale (1 → 0, 3 → 50, 5 → 100)."""
    return ((mean - 1) * 25).quantize(Decimal("0.1"), ROUND_HALF_UP)


def results(session: Session, *, survey: Survey, k: int = K_ANONYMITY) -> SurveyResults:
    """Per-question figures in set-based SQL; any group under k answers shows no figure."""
    responses = (
        session.scalar(
            select(func.count(SurveyResponse.id)).where(SurveyResponse.survey_id == survey.id)
        )
        or 0
    )
    eligible = eligible_unit_count(session, survey)
    rate = (
        (Decimal(responses) / eligible).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        if eligible
        else None
    )
    question_ids = [q.id for q in survey.questions]
    counts: dict[int, dict[str, int]] = {}
    for question_id, score, choice, n in session.execute(
        select(SurveyAnswer.question_id, SurveyAnswer.score, SurveyAnswer.choice, func.count())
        .where(SurveyAnswer.question_id.in_(question_ids or [-1]))
        .where((SurveyAnswer.score.is_not(None)) | (SurveyAnswer.choice.is_not(None)))
        .group_by(SurveyAnswer.question_id, SurveyAnswer.score, SurveyAnswer.choice)
    ):
        key = str(score) if score is not None else str(choice)
        counts.setdefault(question_id, {})[key] = int(n)
    buildings: dict[int, list[tuple[str, int, int]]] = {}
    for question_id, name, n, total in session.execute(
        select(
            SurveyAnswer.question_id,
            Building.name,
            func.count(SurveyAnswer.id),
            func.sum(SurveyAnswer.score),
        )
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .join(Building, Building.id == SurveyResponse.building_id)
        .where(SurveyAnswer.question_id.in_(question_ids or [-1]), SurveyAnswer.score.is_not(None))
        .group_by(SurveyAnswer.question_id, Building.id, Building.name)
        .order_by(Building.name)
    ):
        buildings.setdefault(question_id, []).append((name, int(n), int(total or 0)))
    texts: dict[int, list[str]] = {}
    text_counts = dict(
        session.execute(
            select(SurveyAnswer.question_id, func.count())
            .where(SurveyAnswer.question_id.in_(question_ids or [-1]), SurveyAnswer.text != "")
            .group_by(SurveyAnswer.question_id)
        ).all()
    )
    for question_id, text in session.execute(
        select(SurveyAnswer.question_id, SurveyAnswer.text)
        .where(SurveyAnswer.question_id.in_(question_ids or [-1]), SurveyAnswer.text != "")
        .order_by(SurveyAnswer.id)
    ):
        texts.setdefault(question_id, []).append(text)
    out = []
    for q in survey.questions:
        if q.kind == QuestionKind.TEXT:
            n = int(text_counts.get(q.id, 0))
            hidden = n < k
            out.append(
                QuestionResult(q, n, hidden, texts=[] if hidden else texts.get(q.id, [])[:200])
            )
            continue
        tally = counts.get(q.id, {})
        n = sum(tally.values())
        result = QuestionResult(q, n, n < k)
        if not result.suppressed:
            if q.kind == QuestionKind.RATING:
                result.counts = {str(s): tally.get(str(s), 0) for s in range(1, 6)}
                total = sum(int(s) * c for s, c in tally.items())
                result.mean = (Decimal(total) / n).quantize(Decimal("0.01"), ROUND_HALF_UP)
                result.score_100 = to_100(Decimal(total) / n)
                result.by_building = [
                    {
                        "building": name,
                        "answers": bn,
                        "mean": (Decimal(bt) / bn).quantize(Decimal("0.01"), ROUND_HALF_UP)
                        if bn >= k
                        else None,
                    }
                    for name, bn, bt in buildings.get(q.id, [])
                ]
            else:
                result.counts = {o: tally.get(o, 0) for o in q.options}
        out.append(result)
    return SurveyResults(survey, responses, eligible, rate, out, k)


def load_survey(session: Session, survey_id: int) -> Survey | None:
    return session.scalar(
        select(Survey).options(selectinload(Survey.questions)).where(Survey.id == survey_id)
    )
