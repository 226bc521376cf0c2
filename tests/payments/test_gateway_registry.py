"""Which gateways a deployment offers, from its settings."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from portal.payments.gateways import registry
from portal.payments.gateways.alipay import AlipayGateway
from portal.payments.gateways.base import Gateway
from portal.payments.gateways.wechat import WechatGateway
from tests.payments.platforms import (
    AlipayPlatform,
    WechatPlatform,
    alipay_platform,
    alipay_trade,
    wechat_platform,
)


@pytest.fixture(scope="module")
def wechat(tmp_path_factory: pytest.TempPathFactory) -> WechatPlatform:
    return wechat_platform(tmp_path_factory.mktemp("wechat"))


@pytest.fixture(scope="module")
def alipay(tmp_path_factory: pytest.TempPathFactory) -> AlipayPlatform:
    return alipay_platform(tmp_path_factory.mktemp("alipay"))


@pytest.fixture
def clean_registry() -> Iterator[None]:
    before = dict(registry._FACTORIES)
    yield
    registry._FACTORIES.clear()
    registry._FACTORIES.update(before)


class FakeSandbox:
    channel = "sandbox"


def sandbox_factory(settings: Mapping[str, Any]) -> Any:
    return FakeSandbox() if settings.get("PAYMENTS_SANDBOX") else None


def test_nothing_configured_offers_nothing() -> None:
    assert registry.configured_gateways({}) == {}


def test_configured_channels_are_offered(wechat: WechatPlatform, alipay: AlipayPlatform) -> None:
    gateways = registry.configured_gateways({**wechat.settings, **alipay.settings})
    assert list(gateways) == ["wechat", "alipay"]
    assert isinstance(gateways["wechat"], WechatGateway)
    assert isinstance(gateways["alipay"], AlipayGateway)
    assert registry.configured_gateways(alipay.settings).keys() == {"alipay"}


def test_broken_channel_is_hidden_with_a_warning_and_the_others_stay(
    wechat: WechatPlatform,
    alipay: AlipayPlatform,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = {
        **wechat.settings,
        "WECHATPAY_PRIVATE_KEY": str(tmp_path / "gone.pem"),
        **alipay.settings,
    }
    with caplog.at_level(logging.WARNING, logger="portal.payments.gateways.registry"):
        gateways = registry.configured_gateways(settings)
    assert list(gateways) == ["alipay"]
    assert "wechat is not offered" in caplog.text
    assert "gone.pem" in caplog.text


def test_half_configured_channel_is_hidden_with_a_warning(
    alipay: AlipayPlatform, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="portal.payments.gateways.registry"):
        gateways = registry.configured_gateways({"WECHATPAY_MCHID": "1900000109"})
    assert gateways == {}
    assert "WECHATPAY_APPID" in caplog.text


@pytest.mark.usefixtures("clean_registry")
def test_sandbox_is_offered_only_once_registered_and_switched_on() -> None:
    assert "sandbox" not in registry.configured_gateways({"PAYMENTS_SANDBOX": True})
    registry.register("sandbox", sandbox_factory)
    assert "sandbox" in registry.registered_channels()
    assert list(registry.configured_gateways({"PAYMENTS_SANDBOX": True})) == ["sandbox"]
    assert registry.configured_gateways({"PAYMENTS_SANDBOX": False}) == {}
    registry.unregister("sandbox")
    assert "sandbox" not in registry.registered_channels()


@pytest.mark.usefixtures("clean_registry")
def test_a_failing_factory_does_not_take_the_others_down(
    alipay: AlipayPlatform, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(settings: Mapping[str, Any]) -> Gateway | None:
        raise RuntimeError("boom")

    registry.register("sandbox", explode)
    with caplog.at_level(logging.WARNING, logger="portal.payments.gateways.registry"):
        assert list(registry.configured_gateways(alipay.settings)) == ["alipay"]
    assert "sandbox is not offered" in caplog.text


def test_gateways_are_built_once_and_rebuilt_when_a_key_file_changes(tmp_path: Path) -> None:
    """Loading RSA keys costs ~100 ms per channel: not something to do on every request."""
    platform = alipay_platform(tmp_path)
    first = registry.configured_gateways(platform.settings)["alipay"]
    assert registry.configured_gateways(dict(platform.settings))["alipay"] is first
    rotated = alipay_platform(tmp_path)  # same paths, new keys
    second = registry.configured_gateways(rotated.settings)["alipay"]
    assert second is not first
    headers, body = rotated.notification(alipay_trade())
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert second.parse_notification(headers=headers, body=body, now=now).amount_fen == 123456
