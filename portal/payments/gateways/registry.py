"""Which gateways this deployment offers: those whose settings are present and usable.

A channel whose settings are all absent is simply not offered. A channel that is half
configured, or whose key files are missing or unreadable, is not offered either, and a warning
says why, so one broken channel never takes the site (or the other channels) down.

Built in: "wechat" and "alipay". Other channels (the sandbox) are added with `register()`;
a factory returns None when the channel is switched off by its own settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from portal.payments.gateways.alipay import AlipayGateway
from portal.payments.gateways.base import Gateway
from portal.payments.gateways.keys import GatewayConfigError
from portal.payments.gateways.wechat import WechatGateway

log = logging.getLogger(__name__)

Factory = Callable[[Mapping[str, Any]], Gateway | None]

_FACTORIES: dict[str, Factory] = {
    "wechat": WechatGateway.from_settings,
    "alipay": AlipayGateway.from_settings,
}


def register(channel: str, factory: Factory) -> None:
    """Offer a channel built by `factory(settings)` (None from it means: off here)."""
    _FACTORIES[channel] = factory


def unregister(channel: str) -> None:
    """Stop offering a registered channel (tests use this to undo register())."""
    _FACTORIES.pop(channel, None)


def registered_channels() -> tuple[str, ...]:
    """Every channel that has a factory, configured or not."""
    return tuple(_FACTORIES)


def configured_gateways(settings: Mapping[str, Any]) -> dict[str, Gateway]:
    """channel → gateway, for the channels these settings make usable."""
    gateways: dict[str, Gateway] = {}
    for channel, factory in _FACTORIES.items():
        try:
            gateway = factory(settings)
        except GatewayConfigError as exc:
            log.warning("payment channel %s is not offered: %s", channel, exc)
            continue
        except Exception:  # a broken SDK or key must not hide the other channels
            log.warning("payment channel %s is not offered", channel, exc_info=True)
            continue
        if gateway is not None:
            gateways[channel] = gateway
    return gateways
