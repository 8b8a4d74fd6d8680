"""Fakes of the outside services as real HTTP servers on 127.0.0.1, faults included."""

from .assessment_core import Delivery, FakeAssessmentCore, sign_headers
from .server import FakeServer, FakeService
from .sms import FakeSmsGateway
from .wechat import FakeWeChat

__all__ = [
    "Delivery",
    "FakeAssessmentCore",
    "FakeServer",
    "FakeService",
    "FakeSmsGateway",
    "FakeWeChat",
    "sign_headers",
]
