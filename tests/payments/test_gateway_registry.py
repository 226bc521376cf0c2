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
from portal.payments.gateways.base import Gateway, Scene, scene_for
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


@pytest.mark.parametrize(
    ("agent", "scene"),
    [
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            Scene.MOBILE,
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; 23127PN0CC) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.6099.144 Mobile Safari/537.36",
            Scene.MOBILE,
        ),
        (
            "Mozilla/5.0 (Phone; OpenHarmony 4.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/114.0.0.0 Safari/537.36 ArkWeb/4.1.6.1 HuaweiBrowser/5.0.4.300",
            Scene.MOBILE,
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323d) NetType/WIFI "
            "Language/zh_CN",
            Scene.WECHAT,
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; V2307A) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Version/4.0 Chrome/122.0.6261.120 Mobile Safari/537.36 XWEB/1220099 MMWEBSDK/20240404 "
            "MMWEBID/1234 MicroMessenger/8.0.49.2600(0x28003133) WeChat/arm64 Weixin NetType/5G",
            Scene.WECHAT,
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36",
            Scene.DESKTOP,
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
            Scene.DESKTOP,
        ),
        ("", Scene.DESKTOP),
        (None, Scene.DESKTOP),
    ],
)
def test_scene_comes_from_the_user_agent(agent: str | None, scene: Scene) -> None:
    assert scene_for(agent) is scene
