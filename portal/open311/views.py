"""Open311 GeoReport v2 endpoints under /open311/v2/, in JSON and XML, with the spec's errors.

Reading is public (and anonymised); filing a request needs an owner's api_key, so the login
hook skips this blueprint and CSRF does not apply (no cookies are used here).
"""

from __future__ import annotations

import hashlib
from typing import Any
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from portal.errors import DomainError
from portal.extensions import csrf, db, limiter
from portal.open311 import service
from portal.open311.service import Open311Error
from portal.security import public
from portal.tickets import intake as tickets_intake
from portal.tickets import keys
from portal.timeutil import now_utc

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
csrf.exempt(bp)

FMT = "<any(json, xml):fmt>"
SPEC = "http://wiki.open311.org/GeoReport_v2"


def _xml_value(parent: ET.Element, tag: str, value: Any, item_tag: str) -> None:
    element = ET.SubElement(parent, tag)
    if value is None:
        return
    if isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(element, key, inner, item_tag)
    elif isinstance(value, list):
        for inner in value:
            _xml_value(element, item_tag, inner, "value")
    else:
        element.text = str(value)


def _xml(root: str, item: str, data: Any) -> str:
    element = ET.Element(root)
    if isinstance(data, list):
        for row in data:
            _xml_value(element, item, row, "value")
    else:
        for key, value in data.items():
            _xml_value(element, key, value, item)
    body = ET.tostring(element, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body


def respond(data: Any, fmt: str, *, root: str, item: str, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(
            _xml(root, item, data), status=status, content_type="text/xml; charset=utf-8"
        )
    response = jsonify(data)
    response.status_code = status
    return response


def _fmt() -> str:
    args = request.view_args or {}
    return "xml" if args.get("fmt") == "xml" or request.path.endswith(".xml") else "json"


def _error(status: int, description: str, code: int | None = None) -> Response:
    return respond(
        [{"code": code or status, "description": description}],
        _fmt(),
        root="errors",
        item="error",
        status=status,
    )


@bp.errorhandler(Open311Error)
def open311_error(exc: Open311Error) -> ResponseReturnValue:
    db.session.rollback()
    return _error(exc.status, exc.description, exc.code)


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError) -> ResponseReturnValue:
    db.session.rollback()
    return _error(exc.status if exc.status in (403, 404) else 400, exc.message)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 400
    if status == 429:
        return _error(429, _("请求过于频繁，请稍后再试"))
    return _error(status, str(exc.description))


def _param(name: str) -> str | None:
    value = request.values.get(name)
    if value is None and request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict) and body.get(name) is not None:
            value = str(body[name])
    return value.strip() if isinstance(value, str) and value.strip() else None


def _viewer() -> Any:
    key = _param("api_key")
    if key is None:
        return None
    user = keys.user_for_key(db.session, key=key, now=now_utc())
    if user is None:
        raise Open311Error(403, "Invalid api_key received")
    return user


def _rate_key() -> str:
    key = _param("api_key")
    if key:
        return "open311:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return "open311-ip:" + (request.remote_addr or "")


def _post_limit() -> str:
    return str(current_app.config.get("OPEN311_RATE_LIMIT", "60 per hour"))


@bp.route(f"/discovery.{FMT}")
@public
def discovery(fmt: str) -> ResponseReturnValue:
    endpoint = url_for("open311.discovery", fmt="json", _external=True).rsplit("/", 1)[0] + "/"
    data = {
        "changeset": "2026-11-23T00:00:00Z",
        "contact": _("请联系小区物业服务中心"),
        "key_service": url_for("tickets.key_list", _external=True),
        "endpoints": [
            {
                "specification": SPEC,
                "url": endpoint,
                "changeset": "2026-11-23T00:00:00Z",
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    if fmt == "xml":
        element = ET.Element("discovery")
        for key in ("changeset", "contact", "key_service"):
            ET.SubElement(element, key).text = data[key]
        endpoints = ET.SubElement(element, "endpoints")
        for item in data["endpoints"]:
            node = ET.SubElement(endpoints, "endpoint")
            for key in ("specification", "url", "changeset", "type"):
                ET.SubElement(node, key).text = item[key]
            formats = ET.SubElement(node, "formats")
            for value in item["formats"]:
                ET.SubElement(formats, "format").text = value
        body = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode")
        return Response(body, content_type="text/xml; charset=utf-8")
    return jsonify(data)


@bp.route(f"/services.{FMT}")
@public
def service_list(fmt: str) -> ResponseReturnValue:
    community = service.jurisdiction(
        db.session, jurisdiction_id=_param("jurisdiction_id"), user=_viewer()
    )
    data = service.service_list(db.session, community)
    db.session.commit()  # default categories may have been created on first use
    return respond(data, fmt, root="services", item="service")


@bp.route(f"/services/<service_code>.{FMT}")
@public
def service_definition(service_code: str, fmt: str) -> ResponseReturnValue:
    community = service.jurisdiction(
        db.session, jurisdiction_id=_param("jurisdiction_id"), user=_viewer()
    )
    data = service.service_definition(db.session, community, service_code)
    return respond(data, fmt, root="service_definition", item="attribute")


@bp.route(f"/requests.{FMT}", methods=["GET"])
@public
def request_list(fmt: str) -> ResponseReturnValue:
    viewer = _viewer()
    community = service.jurisdiction(
        db.session, jurisdiction_id=_param("jurisdiction_id"), user=viewer
    )
    try:
        page = int(_param("page") or 1)
        page_size = int(_param("page_size") or service.MAX_RESULTS)
    except ValueError as exc:
        raise Open311Error(400, "page and page_size must be integers") from exc
    rows = service.search_requests(
        db.session,
        community=community,
        now=now_utc(),
        service_request_ids=_param("service_request_id"),
        service_codes=_param("service_code"),
        start_date=_param("start_date"),
        end_date=_param("end_date"),
        statuses=_param("status"),
        page=page,
        page_size=page_size,
    )
    data = [service.request_dict(t, viewer=viewer) for t in rows]
    db.session.commit()  # the key's last_used_at
    return respond(data, fmt, root="service_requests", item="request")


@bp.route(f"/requests.{FMT}", methods=["POST"])
@public
@limiter.limit(_post_limit, key_func=_rate_key)
def request_create(fmt: str) -> ResponseReturnValue:
    key = _param("api_key")
    if key is None:
        raise Open311Error(403, "api_key was not provided -- can't proceed with create_request.")
    user = keys.user_for_key(db.session, key=key, now=now_utc())
    if user is None:
        raise Open311Error(403, "Invalid api_key received -- can't proceed with create_request.")
    params = {
        name: _param(name) or ""
        for name in (
            "jurisdiction_id",
            "service_code",
            "lat",
            "long",
            "address_string",
            "address_id",
            "description",
            "phone",
        )
    }
    photos = []
    for upload in request.files.getlist("media"):
        from portal.uploads import service as uploads

        data = uploads.read_upload(upload, tickets_intake.PHOTO_MAX_BYTES)
        photos.append(tickets_intake.PhotoUpload(data=data, filename=upload.filename or "media"))
    ticket = service.create_request(
        db.session, user=user, params=params, now=now_utc(), photos=photos
    )
    body = [
        {
            "service_request_id": ticket.number,
            "service_notice": service.service_notice(ticket),
            "account_id": None,
        }
    ]
    db.session.commit()
    return respond(body, fmt, root="service_requests", item="request")


@bp.route(f"/requests/<request_id>.{FMT}")
@public
def request_detail(request_id: str, fmt: str) -> ResponseReturnValue:
    viewer = _viewer()
    community = None
    if _param("jurisdiction_id"):
        community = service.jurisdiction(
            db.session, jurisdiction_id=_param("jurisdiction_id"), user=viewer
        )
    ticket = service.find_request(db.session, community=community, request_id=request_id)
    if ticket is not None and community is None:
        try:  # a request of a community the caller may not see does not exist for them
            service.jurisdiction(db.session, jurisdiction_id=ticket.community.code, user=viewer)
        except Open311Error:
            ticket = None
    if ticket is None:
        raise Open311Error(404, "service_request_id provided was not found")
    data = [service.request_dict(ticket, viewer=viewer)]
    db.session.commit()
    return respond(data, fmt, root="service_requests", item="request")
