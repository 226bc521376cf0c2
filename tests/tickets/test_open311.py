"""Open311 GeoReport v2, checked against the example payloads of wiki.open311.org/GeoReport_v2."""

import io
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.tickets import keys, workflow
from portal.tickets.models import Ticket, TicketPhoto
from portal.timeutil import now_utc
from tests.factories import NOW
from tests.tickets.util import World, jpeg_bytes, make_ticket, make_world

W3 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


def _key(session: Session, world: World) -> str:
    issued = keys.create_key(session, user=world.owner, label="App", now=NOW)
    session.commit()
    return issued.key


def _spec_example(key: str, jurisdiction: str, service_code: str) -> str:
    """The spec's POST Service Request example body, with our key, jurisdiction and service."""
    example = (
        "api_key=xyz&jurisdiction_id=city.gov&service_code=001&lat=37.76524078"
        "&long=-122.4212043&address_string=1234+5th+street&email=smit333%40sfgov.edu"
        "&device_id=tt222111&account_id=123456&first_name=john&last_name=smith"
        "&phone=111111111&description=A+large+sinkhole+is+destroying+the+street"
        "&media_url=http%3A%2F%2Ffarm3.static.flickr.com%2F2002%2F2212426634_5ed477a060.jpg"
        "&attribute[WHISPAWN]=123456&attribute[WHISDORN]=COISL001"
    )
    return (
        example.replace("api_key=xyz", f"api_key={key}")
        .replace("jurisdiction_id=city.gov", f"jurisdiction_id={jurisdiction}")
        .replace("service_code=001", f"service_code={service_code}")
    )


FORM = "application/x-www-form-urlencoded; charset=utf-8"


def _count(session: Session) -> int:
    return session.scalar(select(func.count(Ticket.id))) or 0


def test_service_list_has_the_spec_fields(client: FlaskClient, session: Session) -> None:
    make_world(session, code="GEO")
    make_world(session, code="GEO2")
    session.commit()
    response = client.get("/open311/v2/services.json?jurisdiction_id=GEO")
    assert response.status_code == 200
    assert response.content_type.startswith("application/json")
    services = response.json
    assert [s["service_code"] for s in services][:3] == [
        "plumbing_electric",
        "doors_windows",
        "elevator",
    ]
    assert set(services[0]) == {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    }
    assert services[0]["metadata"] is False
    assert services[0]["type"] == "realtime"
    assert services[0]["service_name"] == "水电"
    english = client.get(
        "/open311/v2/services.json?jurisdiction_id=GEO", headers={"Accept-Language": "en"}
    )
    assert english.json[0]["service_name"] == "Plumbing & electrical"
    definition = client.get("/open311/v2/services/elevator.json?jurisdiction_id=GEO")
    assert definition.json == {"service_code": "elevator", "attributes": []}
    # Several jurisdictions: the id is required (400); unknown ones are 404.
    missing = client.get("/open311/v2/services.json")
    assert missing.status_code == 400
    assert missing.json[0]["code"] == 400
    assert "jurisdiction_id" in missing.json[0]["description"]
    unknown = client.get("/open311/v2/services.json?jurisdiction_id=NOPE")
    assert unknown.status_code == 404
    assert set(unknown.json[0]) == {"code", "description"}


def test_xml_formats(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="XMLC")
    make_ticket(session, world)
    session.commit()
    response = client.get("/open311/v2/services.xml?jurisdiction_id=XMLC")
    assert response.content_type == "text/xml; charset=utf-8"
    assert response.get_data(as_text=True).startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(response.data)  # noqa: S314 - our own output
    assert root.tag == "services"
    first = root.find("service")
    assert first is not None
    assert first.findtext("service_code") == "plumbing_electric"
    assert first.findtext("metadata") == "false"
    requests_ = ET.fromstring(  # noqa: S314 - our own output
        client.get("/open311/v2/requests.xml?jurisdiction_id=XMLC").data
    )
    assert requests_.tag == "service_requests"
    assert {child.tag for child in requests_.find("request")} == REQUEST_FIELDS
    error = client.get("/open311/v2/services.xml?jurisdiction_id=NOPE")
    assert error.status_code == 404
    errors = ET.fromstring(error.data)  # noqa: S314 - our own output
    assert errors.tag == "errors"
    assert errors.find("error").findtext("code") == "404"


def test_post_the_spec_example(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="POST1")
    key = _key(session, world)
    response = client.post(
        "/open311/v2/requests.json",
        data=_spec_example(key, "POST1", "cleaning"),
        content_type=FORM,
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert isinstance(body, list)
    assert set(body[0]) == {"service_request_id", "service_notice", "account_id"}
    assert body[0]["account_id"] is None
    assert body[0]["service_request_id"] == "POST1-00001"
    ticket = session.scalar(select(Ticket))
    assert ticket.channel == "open311"
    assert ticket.reporter_id == world.owner.id
    assert ticket.location_type == "common_area"
    assert ticket.area == "1234 5th street"
    assert ticket.description == "A large sinkhole is destroying the street"
    assert str(ticket.lat) == "37.765241"
    assert str(ticket.long) == "-122.421204"
    # It can be followed at requests/<id>.json.
    detail = client.get("/open311/v2/requests/POST1-00001.json")
    assert detail.status_code == 200
    assert detail.json[0]["service_request_id"] == "POST1-00001"
    assert detail.json[0]["status"] == "open"
    assert detail.json[0]["lat"] == 37.765241


def test_post_xml_response(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="POSTX")
    key = _key(session, world)
    response = client.post(
        "/open311/v2/requests.xml", data=_spec_example(key, "POSTX", "greening"), content_type=FORM
    )
    assert response.status_code == 200
    root = ET.fromstring(response.data)  # noqa: S314 - our own output
    assert root.tag == "service_requests"
    request_ = root.find("request")
    assert request_.findtext("service_request_id") == "POSTX-00001"
    assert request_.find("account_id") is not None


def test_in_home_request_via_address_id(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="HOME")
    key = _key(session, world)
    response = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "doors_windows",
            "address_id": world.unit.code,
            "description": "入户门锁坏了",
        },
    )
    assert response.status_code == 200, response.json
    ticket = session.scalar(select(Ticket))
    assert ticket.location_type == "in_home"
    assert ticket.unit_id == world.unit.id


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"api_key": None}, 403, "api_key was not provided"),
        ({"api_key": "o311_wrong"}, 403, "Invalid api_key received"),
        ({"service_code": None}, 400, "service_code"),
        ({"service_code": "volcano"}, 404, "service_code"),
        ({"jurisdiction_id": "NOPE"}, 404, "jurisdiction_id"),
        ({"address_string": None, "lat": None, "long": None}, 400, "address_string"),
        ({"lat": "91", "long": "0"}, 400, "lat"),
        ({"lat": "abc"}, 400, "lat"),
        ({"description": "   "}, 400, "描述"),
        ({"address_id": "Z-9-999"}, 400, "address_id"),
    ],
)
def test_post_errors_use_the_spec_format_and_write_nothing(
    client: FlaskClient,
    session: Session,
    change: dict[str, str | None],
    status: int,
    needle: str,
) -> None:
    world = make_world(session, code="ERRS")
    key = _key(session, world)
    data = {
        "api_key": key,
        "jurisdiction_id": "ERRS",
        "service_code": "cleaning",
        "address_string": "3号楼大堂",
        "lat": "31.2",
        "long": "121.5",
        "description": "垃圾没有清运",
    }
    for name, value in change.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    response = client.post("/open311/v2/requests.json", data=urlencode(data), content_type=FORM)
    assert response.status_code == status, response.json
    assert isinstance(response.json, list)
    assert response.json[0]["code"] == status
    assert needle in response.json[0]["description"]
    assert _count(session) == 0


def test_revoked_key_and_other_owners_unit(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="REVK")
    key = _key(session, world)
    row = keys.user_keys(session, user=world.owner)[0]
    base = {"api_key": key, "service_code": "other", "description": "x"}
    refused = client.post(
        "/open311/v2/requests.json", data={**base, "address_id": world.other_unit.code}
    )
    assert refused.status_code == 400
    assert keys.revoke_key(session, user=world.other_owner, key_id=row.id, now=NOW) is False
    assert keys.revoke_key(session, user=world.owner, key_id=row.id, now=NOW) is True
    session.commit()
    revoked = client.post("/open311/v2/requests.json", data={**base, "address_string": "门口"})
    assert revoked.status_code == 403
    assert _count(session) == 0


def test_media_upload_is_content_checked(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="MEDIA")
    key = _key(session, world)
    base = {"api_key": key, "service_code": "greening", "address_string": "中心花园"}
    ok = client.post(
        "/open311/v2/requests.json",
        data={**base, "description": "树枝折断", "media": (io.BytesIO(jpeg_bytes()), "tree.jpg")},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 200, ok.json
    assert session.scalar(select(func.count(TicketPhoto.id))) == 1
    bad = client.post(
        "/open311/v2/requests.json",
        data={**base, "description": "x", "media": (io.BytesIO(b"MZ" + b"\0" * 100), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400
    assert _count(session) == 1


def test_public_requests_are_anonymised(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="ANON")
    home = make_ticket(session, world, description=f"{world.unit.code} 王芳家厨房漏水")
    common = make_ticket(
        session,
        world,
        location_type="common_area",
        building_id=world.unit.building_id,
        floor=1,
        area="电梯厅",
        category="elevator",
        description="电梯门关不严",
    )
    session.commit()
    response = client.get("/open311/v2/requests.json?jurisdiction_id=ANON")
    assert response.status_code == 200
    rows = {r["service_request_id"]: r for r in response.json}
    assert set(rows) == {home.number, common.number}
    for row in rows.values():
        assert set(row) == REQUEST_FIELDS
        assert W3.match(row["requested_datetime"])
        assert W3.match(row["expected_datetime"])
        assert row["status"] == "open"
    text = response.get_data(as_text=True)
    assert world.unit.code not in text
    assert "王芳" not in text
    assert world.owner.username not in text
    assert rows[home.number]["description"] is None
    assert rows[home.number]["address_id"] is None
    assert rows[common.number]["description"] == "电梯门关不严"
    assert "电梯厅" in rows[common.number]["address"]
    # The reporter, with their key, sees their own words.
    key = _key(session, world)
    own = client.get(f"/open311/v2/requests/{home.number}.json?api_key={key}").json[0]
    assert own["description"].endswith("厨房漏水")
    assert own["address_id"] == world.unit.code
    assert client.get("/open311/v2/requests.json?api_key=bad").status_code == 403


def test_request_filters_and_closed_status(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="FILT")
    now = now_utc()
    old = make_ticket(session, world, now=now - timedelta(days=120))
    recent = make_ticket(session, world, now=now - timedelta(days=2), category="elevator")
    done = make_ticket(session, world, now=now - timedelta(days=1))
    workflow.acknowledge(session, ticket=done, actor=world.cs, now=now)
    workflow.resolve(session, ticket=done, actor=world.cs, now=now, note="处理完毕")
    session.commit()

    def ids(query: str) -> set[str]:
        response = client.get(f"/open311/v2/requests.json?jurisdiction_id=FILT&{query}")
        assert response.status_code == 200, response.json
        return {r["service_request_id"] for r in response.json}

    assert ids("") == {recent.number, done.number}  # the default 90 days
    assert ids("status=open") == {recent.number}
    assert ids("status=closed") == {done.number}
    assert ids("service_code=elevator") == {recent.number}
    assert ids(f"service_request_id={old.number},{done.number}") == {old.number, done.number}
    start = (now - timedelta(days=130)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now - timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(f"start_date={start}&end_date={end}") == {old.number}
    assert ids("page_size=1")
    assert len(ids("page_size=1")) == 1
    closed = client.get(f"/open311/v2/requests/{done.number}.json").json[0]
    assert closed["status"] == "closed"
    assert W3.match(closed["updated_datetime"])
    for bad in (
        "status=gone",
        "start_date=yesterday",
        "start_date=2026-01-01T00:00:00",
        f"start_date={start}&end_date={now.strftime('%Y-%m-%dT%H:%M:%SZ')}",
    ):
        response = client.get(f"/open311/v2/requests.json?jurisdiction_id=FILT&{bad}")
        assert response.status_code == 400, bad
        assert response.json[0]["code"] == 400


def test_unknown_request_and_private_community(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="PRIV", is_public=False)
    ticket = make_ticket(session, world)
    session.commit()
    missing = client.get("/open311/v2/requests/NOPE-1.json")
    assert missing.status_code == 404
    assert missing.json == [
        {"code": 404, "description": "service_request_id provided was not found"}
    ]
    assert client.get(f"/open311/v2/requests/{ticket.number}.json").status_code == 404
    assert client.get("/open311/v2/requests.json?jurisdiction_id=PRIV").status_code == 404
    key = _key(session, world)
    member = client.get(f"/open311/v2/requests.json?jurisdiction_id=PRIV&api_key={key}")
    assert member.status_code == 200


def test_discovery(client: FlaskClient) -> None:
    body = client.get("/open311/v2/discovery.json").json
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2/")
    assert "application/json" in endpoint["formats"]
    xml = client.get("/open311/v2/discovery.xml")
    assert ET.fromstring(xml.data).tag == "discovery"  # noqa: S314 - our own output


def test_keys_are_hashed_and_owner_only(session: Session) -> None:
    world = make_world(session)
    issued = keys.create_key(session, user=world.owner, label="x", now=NOW)
    assert issued.key.startswith("o311_")
    assert issued.row.key_hash != issued.key
    assert issued.key not in issued.row.key_hash
    assert keys.user_for_key(session, key=issued.key, now=NOW) == world.owner
    with pytest.raises(Exception, match="业主"):
        keys.create_key(session, user=world.cs, label="x", now=NOW)


def test_posting_is_rate_limited_per_key(make_app: Any) -> None:
    app = make_app(OPEN311_RATE_LIMIT="2 per minute")
    with app.app_context():
        from portal.extensions import db

        world = make_world(db.session, code="RATE")
        key = keys.create_key(db.session, user=world.owner, label="", now=NOW).key
        db.session.commit()
    client = app.test_client()
    data = {"api_key": key, "service_code": "other", "address_string": "大门", "description": "x"}
    for _ in range(2):
        assert client.post("/open311/v2/requests.json", data=data).status_code == 200
    limited = client.post("/open311/v2/requests.json", data=data)
    assert limited.status_code == 429
    assert limited.json[0]["code"] == 429
