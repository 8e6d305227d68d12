"""Property tests of OpenRTB parsing (issue 11, "Trust"): whatever JSON an exchange sends,
`parse_request` either refuses it with RequestError (-> 400 naming the field) or returns a
request whose bid_request events encode, as JSON and as protobuf; and the whole bid path
answers 200, 204 or 400, never a 5xx nor an internal error. Hypothesis generates documents
(OpenRTB-shaped with arbitrary leaves, and arbitrary JSON); a bounded atheris run mutates
the OpenRTB fixtures as bytes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from bidder.app import create_app
from bidder.bid_request import RequestError, parse_request
from bidder.settings import Settings
from contract.encoding import json_line, protobuf_frame
from tests.bidder.conftest import OPENRTB_FIXTURES
from tests.bidder.test_cases import BOOK
from tests.bidder.test_service import NOON
from tests.conftest import REPO, fixture_files

PROPERTY = settings(
    max_examples=400,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---- strategies -------------------------------------------------------------------------

# Any text orjson can decode: every code point but lone surrogates (which JSON text in UTF-8
# cannot carry), control characters included.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
EDGE_INTS = st.sampled_from(
    [0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, 2**64, 10**30, -(10**30), 10**400]
)
INTS = st.one_of(st.integers(-5, 5), st.integers(), EDGE_INTS)
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e300, -1e300, 1e30, 2.0**31, 300.0, 0.5, -0.0, 5e-324]),
)
SCALARS = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXT)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=20,
)


def rarely(odd: st.SearchStrategy[Any], usual: st.SearchStrategy[Any], one_in: int) -> Any:
    """`odd` about once in `one_in` draws, else `usual` (hypothesis' own choices favour the
    first and last branches, so weighting by repeated branches does not work)."""
    return st.integers(0, one_in - 1).flatmap(lambda i: odd if i == one_in // 2 else usual)


def either(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, about 1 in 16 times anything at all."""
    return rarely(JSONISH, plausible, 16)


def obj(
    required: dict[str, st.SearchStrategy[Any]] | None = None, **fields: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """An object with the `required` fields and any subset of `fields`, each plausible or
    not; sometimes not an object at all."""
    return either(
        st.fixed_dictionaries(
            {k: either(v) for k, v in (required or {}).items()},
            optional={k: either(v) for k, v in fields.items()},
        )
    )


NUMBER = rarely(st.one_of(INTS, FLOATS), st.integers(1, 2000), 6)
# Ids: mostly what exchanges send, sometimes any text (control characters are refused).
ID = rarely(TEXT, st.text("abcdefghij0123456789-", min_size=1, max_size=8), 8)
STRINGS = st.lists(TEXT, max_size=3)
SIZE = obj(w=NUMBER, h=NUMBER)
BANNER = obj(
    w=NUMBER,
    h=NUMBER,
    format=st.lists(SIZE, max_size=3),
    wmin=NUMBER,
    wmax=NUMBER,
    hmin=NUMBER,
    hmax=NUMBER,
    pos=NUMBER,
)
DEAL = obj(id=ID, bidfloor=NUMBER, bidfloorcur=TEXT, at=NUMBER, wseat=STRINGS, wadomain=STRINGS)
IMP = obj(
    {"id": ID, "banner": BANNER},
    video=obj(w=NUMBER, h=NUMBER, pos=NUMBER),
    native=obj(request=TEXT),
    audio=obj(mimes=STRINGS),
    bidfloor=NUMBER,
    bidfloorcur=TEXT,
    tagid=TEXT,
    pmp=obj(private_auction=NUMBER, deals=st.lists(DEAL, max_size=3)),
)
GEO = obj(country=TEXT, region=TEXT, city=TEXT, utcoffset=NUMBER)
PUBLISHER = obj(id=ID)
REQUEST = st.fixed_dictionaries(
    {"id": either(ID), "imp": either(st.lists(IMP, min_size=1, max_size=4))},
    optional={
        k: either(v)
        for k, v in {
            "tmax": NUMBER,
            "at": rarely(NUMBER, st.sampled_from([1, 2, 500]), 4),
            "cur": STRINGS,
            "bcat": STRINGS,
            "badv": STRINGS,
            "wseat": STRINGS,
            "bseat": STRINGS,
            "test": NUMBER,
            "site": obj(domain=TEXT, page=TEXT, publisher=PUBLISHER),
            "app": rarely(obj(bundle=TEXT, domain=TEXT, publisher=PUBLISHER), st.none(), 3),
            "dooh": obj(domain=TEXT, publisher=PUBLISHER),
            "device": obj(ua=TEXT, devicetype=NUMBER, os=TEXT, ip=TEXT, ifa=ID, geo=GEO),
            "user": obj(
                id=ID,
                buyeruid=ID,
                geo=GEO,
                data=st.lists(obj(segment=st.lists(obj(id=TEXT), max_size=3)), max_size=2),
            ),
            "ext": obj(exchange=TEXT),
        }.items()
    },
)


# ---- properties -------------------------------------------------------------------------


def events_of(doc: object) -> list[dict[str, object]]:
    """Parse `doc`; the bid_request events of what parses ([] when refused with
    RequestError, the only exception parsing may raise)."""
    try:
        req = parse_request(doc, now_ms=NOON)
    except RequestError as exc:
        assert exc.where or exc.problem  # a 400 always says what is wrong
        return []
    return [
        {
            **req.base,
            **imp.event_fields,
            "event_id": f"{req.id}:{imp.id}",
            "event_time": NOON,
            "no_bid_reason": "unsupported",
        }
        for imp in req.imps
    ]


def encodes(event: dict[str, object]) -> None:
    json_line(event)
    protobuf_frame("bid_request", event)


@PROPERTY
@given(REQUEST)
def test_openrtb_shaped_documents_parse_or_are_refused_and_always_encode(doc: Any) -> None:
    for event in events_of(doc):
        encodes(event)


@PROPERTY
@given(JSONISH)
def test_arbitrary_json_never_raises_anything_but_request_error(doc: Any) -> None:
    for event in events_of(doc):
        encodes(event)


def test_the_parser_reaches_deep_into_generated_requests() -> None:
    """The strategy is not vacuous: a good share of its documents parse."""
    parsed = []

    @settings(max_examples=300, deadline=None, database=None)
    @given(REQUEST)
    def count(doc: Any) -> None:
        parsed.append(bool(events_of(doc)))

    count()
    assert sum(parsed) >= 15, f"{sum(parsed)} of {len(parsed)} generated requests parsed"


def test_the_bid_path_answers_every_generated_request(settings: Settings) -> None:
    """Through the app (bytes -> orjson -> parse -> decide -> log): 200, 204 or 400 only."""
    app = create_app(settings.with_overrides(campaigns=str(BOOK)), clock=lambda: NOON)
    statuses: dict[int, int] = {}
    with TestClient(app) as client:

        @settings_for_app
        @given(REQUEST)
        def answer(doc: Any) -> None:
            body = json.dumps(doc).encode()  # NaN/Infinity as exchanges' lenient encoders
            response = client.post("/openrtb2/bid", content=body)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code in (200, 204, 400), response.text
            assert response.headers.get("x-bidlake-no-bid") != "internal_error"

        answer()
        metrics = client.get("/metrics").text
    assert 'outcome="bid_internal_error"' not in metrics
    assert statuses.get(400, 0) and (statuses.get(200, 0) + statuses.get(204, 0)), statuses


settings_for_app = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---- atheris ------------------------------------------------------------------------------


def test_a_bounded_atheris_run_finds_no_crash(tmp_path: Path) -> None:
    """libFuzzer mutates the OpenRTB fixtures for a few seconds (coverage-guided)."""
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in fixture_files(OPENRTB_FIXTURES, "*request*.json"):
        shutil.copy(path, corpus / path.name)
    crashes = tmp_path / "crashes"
    crashes.mkdir()
    harness = Path(__file__).with_name("fuzz_bid_request.py")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [
            sys.executable,
            str(harness),
            "-max_total_time=5",
            "-timeout=5",
            "-rss_limit_mb=2048",
            "-max_len=8192",
            f"-artifact_prefix={crashes}/",
            str(corpus),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = run.stderr[-4000:]
    assert run.returncode == 0, output
    assert "Done" in output and not list(crashes.iterdir()), output
