from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class AdFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AD_FORMAT_UNSPECIFIED: _ClassVar[AdFormat]
    AD_FORMAT_BANNER: _ClassVar[AdFormat]
    AD_FORMAT_VIDEO: _ClassVar[AdFormat]
    AD_FORMAT_NATIVE: _ClassVar[AdFormat]
    AD_FORMAT_AUDIO: _ClassVar[AdFormat]

class SlotVisibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SLOT_VISIBILITY_UNSPECIFIED: _ClassVar[SlotVisibility]
    SLOT_VISIBILITY_UNKNOWN: _ClassVar[SlotVisibility]
    SLOT_VISIBILITY_ABOVE_FOLD: _ClassVar[SlotVisibility]
    SLOT_VISIBILITY_BELOW_FOLD: _ClassVar[SlotVisibility]

class DeviceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_TYPE_UNSPECIFIED: _ClassVar[DeviceType]
    DEVICE_TYPE_MOBILE: _ClassVar[DeviceType]
    DEVICE_TYPE_DESKTOP: _ClassVar[DeviceType]
    DEVICE_TYPE_CTV: _ClassVar[DeviceType]
    DEVICE_TYPE_PHONE: _ClassVar[DeviceType]
    DEVICE_TYPE_TABLET: _ClassVar[DeviceType]
    DEVICE_TYPE_CONNECTED_DEVICE: _ClassVar[DeviceType]
    DEVICE_TYPE_SET_TOP_BOX: _ClassVar[DeviceType]
    DEVICE_TYPE_OOH: _ClassVar[DeviceType]

class Os(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OS_UNSPECIFIED: _ClassVar[Os]
    OS_ANDROID: _ClassVar[Os]
    OS_IOS: _ClassVar[Os]
    OS_WINDOWS: _ClassVar[Os]
    OS_MACOS: _ClassVar[Os]
    OS_LINUX: _ClassVar[Os]
    OS_OTHER: _ClassVar[Os]

class Browser(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BROWSER_UNSPECIFIED: _ClassVar[Browser]
    BROWSER_CHROME: _ClassVar[Browser]
    BROWSER_SAFARI: _ClassVar[Browser]
    BROWSER_FIREFOX: _ClassVar[Browser]
    BROWSER_EDGE: _ClassVar[Browser]
    BROWSER_SAMSUNG: _ClassVar[Browser]
    BROWSER_APP: _ClassVar[Browser]
    BROWSER_OTHER: _ClassVar[Browser]

class NoBidReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NO_BID_REASON_UNSPECIFIED: _ClassVar[NoBidReason]
    NO_BID_REASON_NO_MATCHING_CAMPAIGN: _ClassVar[NoBidReason]
    NO_BID_REASON_BELOW_FLOOR: _ClassVar[NoBidReason]
    NO_BID_REASON_BUDGET_EXHAUSTED: _ClassVar[NoBidReason]
    NO_BID_REASON_PACING: _ClassVar[NoBidReason]
    NO_BID_REASON_FREQUENCY_CAP: _ClassVar[NoBidReason]
    NO_BID_REASON_BLOCKED: _ClassVar[NoBidReason]
    NO_BID_REASON_UNSUPPORTED: _ClassVar[NoBidReason]
    NO_BID_REASON_NO_MODEL: _ClassVar[NoBidReason]
    NO_BID_REASON_TIMEOUT: _ClassVar[NoBidReason]
    NO_BID_REASON_POLICY: _ClassVar[NoBidReason]

class ConversionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONVERSION_TYPE_UNSPECIFIED: _ClassVar[ConversionType]
    CONVERSION_TYPE_PURCHASE: _ClassVar[ConversionType]
    CONVERSION_TYPE_SIGNUP: _ClassVar[ConversionType]
    CONVERSION_TYPE_INSTALL: _ClassVar[ConversionType]
    CONVERSION_TYPE_LEAD: _ClassVar[ConversionType]
AD_FORMAT_UNSPECIFIED: AdFormat
AD_FORMAT_BANNER: AdFormat
AD_FORMAT_VIDEO: AdFormat
AD_FORMAT_NATIVE: AdFormat
AD_FORMAT_AUDIO: AdFormat
SLOT_VISIBILITY_UNSPECIFIED: SlotVisibility
SLOT_VISIBILITY_UNKNOWN: SlotVisibility
SLOT_VISIBILITY_ABOVE_FOLD: SlotVisibility
SLOT_VISIBILITY_BELOW_FOLD: SlotVisibility
DEVICE_TYPE_UNSPECIFIED: DeviceType
DEVICE_TYPE_MOBILE: DeviceType
DEVICE_TYPE_DESKTOP: DeviceType
DEVICE_TYPE_CTV: DeviceType
DEVICE_TYPE_PHONE: DeviceType
DEVICE_TYPE_TABLET: DeviceType
DEVICE_TYPE_CONNECTED_DEVICE: DeviceType
DEVICE_TYPE_SET_TOP_BOX: DeviceType
DEVICE_TYPE_OOH: DeviceType
OS_UNSPECIFIED: Os
OS_ANDROID: Os
OS_IOS: Os
OS_WINDOWS: Os
OS_MACOS: Os
OS_LINUX: Os
OS_OTHER: Os
BROWSER_UNSPECIFIED: Browser
BROWSER_CHROME: Browser
BROWSER_SAFARI: Browser
BROWSER_FIREFOX: Browser
BROWSER_EDGE: Browser
BROWSER_SAMSUNG: Browser
BROWSER_APP: Browser
BROWSER_OTHER: Browser
NO_BID_REASON_UNSPECIFIED: NoBidReason
NO_BID_REASON_NO_MATCHING_CAMPAIGN: NoBidReason
NO_BID_REASON_BELOW_FLOOR: NoBidReason
NO_BID_REASON_BUDGET_EXHAUSTED: NoBidReason
NO_BID_REASON_PACING: NoBidReason
NO_BID_REASON_FREQUENCY_CAP: NoBidReason
NO_BID_REASON_BLOCKED: NoBidReason
NO_BID_REASON_UNSUPPORTED: NoBidReason
NO_BID_REASON_NO_MODEL: NoBidReason
NO_BID_REASON_TIMEOUT: NoBidReason
NO_BID_REASON_POLICY: NoBidReason
CONVERSION_TYPE_UNSPECIFIED: ConversionType
CONVERSION_TYPE_PURCHASE: ConversionType
CONVERSION_TYPE_SIGNUP: ConversionType
CONVERSION_TYPE_INSTALL: ConversionType
CONVERSION_TYPE_LEAD: ConversionType

class BidRequest(_message.Message):
    __slots__ = ("event_id", "event_time", "request_id", "imp_id", "exchange", "publisher_id", "site_domain", "app_bundle", "page_url", "placement_id", "ad_format", "ad_width", "ad_height", "slot_visibility", "device_type", "os", "browser", "user_agent", "ip_truncated", "country", "region", "city", "user_id", "user_segments", "bidfloor_micros", "currency", "tmax_ms", "auction_type", "deal_id", "no_bid_reason", "user_hour")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    IMP_ID_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHER_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    APP_BUNDLE_FIELD_NUMBER: _ClassVar[int]
    PAGE_URL_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AD_FORMAT_FIELD_NUMBER: _ClassVar[int]
    AD_WIDTH_FIELD_NUMBER: _ClassVar[int]
    AD_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SLOT_VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    BROWSER_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    IP_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    BIDFLOOR_MICROS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TMAX_MS_FIELD_NUMBER: _ClassVar[int]
    AUCTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    NO_BID_REASON_FIELD_NUMBER: _ClassVar[int]
    USER_HOUR_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_time: int
    request_id: str
    imp_id: str
    exchange: str
    publisher_id: str
    site_domain: str
    app_bundle: str
    page_url: str
    placement_id: str
    ad_format: str
    ad_width: int
    ad_height: int
    slot_visibility: str
    device_type: str
    os: str
    browser: str
    user_agent: str
    ip_truncated: str
    country: str
    region: str
    city: str
    user_id: str
    user_segments: _containers.RepeatedScalarFieldContainer[str]
    bidfloor_micros: int
    currency: str
    tmax_ms: int
    auction_type: int
    deal_id: str
    no_bid_reason: str
    user_hour: int
    def __init__(self, event_id: _Optional[str] = ..., event_time: _Optional[int] = ..., request_id: _Optional[str] = ..., imp_id: _Optional[str] = ..., exchange: _Optional[str] = ..., publisher_id: _Optional[str] = ..., site_domain: _Optional[str] = ..., app_bundle: _Optional[str] = ..., page_url: _Optional[str] = ..., placement_id: _Optional[str] = ..., ad_format: _Optional[str] = ..., ad_width: _Optional[int] = ..., ad_height: _Optional[int] = ..., slot_visibility: _Optional[str] = ..., device_type: _Optional[str] = ..., os: _Optional[str] = ..., browser: _Optional[str] = ..., user_agent: _Optional[str] = ..., ip_truncated: _Optional[str] = ..., country: _Optional[str] = ..., region: _Optional[str] = ..., city: _Optional[str] = ..., user_id: _Optional[str] = ..., user_segments: _Optional[_Iterable[str]] = ..., bidfloor_micros: _Optional[int] = ..., currency: _Optional[str] = ..., tmax_ms: _Optional[int] = ..., auction_type: _Optional[int] = ..., deal_id: _Optional[str] = ..., no_bid_reason: _Optional[str] = ..., user_hour: _Optional[int] = ...) -> None: ...

class Bid(_message.Message):
    __slots__ = ("event_id", "event_time", "request_id", "imp_id", "campaign_id", "creative_id", "advertiser_id", "bid_price_micros", "pctr", "pcvr", "model_version", "pacing_factor", "deal_id")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    IMP_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    CREATIVE_ID_FIELD_NUMBER: _ClassVar[int]
    ADVERTISER_ID_FIELD_NUMBER: _ClassVar[int]
    BID_PRICE_MICROS_FIELD_NUMBER: _ClassVar[int]
    PCTR_FIELD_NUMBER: _ClassVar[int]
    PCVR_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PACING_FACTOR_FIELD_NUMBER: _ClassVar[int]
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_time: int
    request_id: str
    imp_id: str
    campaign_id: str
    creative_id: str
    advertiser_id: str
    bid_price_micros: int
    pctr: float
    pcvr: float
    model_version: str
    pacing_factor: float
    deal_id: str
    def __init__(self, event_id: _Optional[str] = ..., event_time: _Optional[int] = ..., request_id: _Optional[str] = ..., imp_id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., creative_id: _Optional[str] = ..., advertiser_id: _Optional[str] = ..., bid_price_micros: _Optional[int] = ..., pctr: _Optional[float] = ..., pcvr: _Optional[float] = ..., model_version: _Optional[str] = ..., pacing_factor: _Optional[float] = ..., deal_id: _Optional[str] = ...) -> None: ...

class Impression(_message.Message):
    __slots__ = ("event_id", "event_time", "bid_id", "request_id", "campaign_id", "creative_id", "clearing_price_micros", "user_id")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    BID_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    CREATIVE_ID_FIELD_NUMBER: _ClassVar[int]
    CLEARING_PRICE_MICROS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_time: int
    bid_id: str
    request_id: str
    campaign_id: str
    creative_id: str
    clearing_price_micros: int
    user_id: str
    def __init__(self, event_id: _Optional[str] = ..., event_time: _Optional[int] = ..., bid_id: _Optional[str] = ..., request_id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., creative_id: _Optional[str] = ..., clearing_price_micros: _Optional[int] = ..., user_id: _Optional[str] = ...) -> None: ...

class Click(_message.Message):
    __slots__ = ("event_id", "event_time", "bid_id", "campaign_id", "user_id")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    BID_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_time: int
    bid_id: str
    campaign_id: str
    user_id: str
    def __init__(self, event_id: _Optional[str] = ..., event_time: _Optional[int] = ..., bid_id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class Conversion(_message.Message):
    __slots__ = ("event_id", "event_time", "campaign_id", "user_id", "conversion_value_micros", "bid_id", "conversion_type")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_VALUE_MICROS_FIELD_NUMBER: _ClassVar[int]
    BID_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_TYPE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_time: int
    campaign_id: str
    user_id: str
    conversion_value_micros: int
    bid_id: str
    conversion_type: str
    def __init__(self, event_id: _Optional[str] = ..., event_time: _Optional[int] = ..., campaign_id: _Optional[str] = ..., user_id: _Optional[str] = ..., conversion_value_micros: _Optional[int] = ..., bid_id: _Optional[str] = ..., conversion_type: _Optional[str] = ...) -> None: ...
