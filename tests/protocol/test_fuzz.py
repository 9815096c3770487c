"""Real frames, damaged: the decoders say no, they never say nonsense.

A modest, reproducible slice of what ``scripts/fuzz`` runs a million times.
The oracle lives in ``jk_tools.fuzz`` and recomputes checksums and physical
limits itself rather than trusting the protocol layer.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.jk_balancer.protocol import BLUETOOTH_PROTOCOLS, Protocol
from custom_components.jk_balancer.protocol.const import FRAME_LENGTH
from jk_tools.fuzz import Outcome, Pipeline, Seeds, feed, independent_checksum
from tests.conftest import CAPTURES

LAYOUT_CHOICES = [None, *BLUETOOTH_PROTOCOLS]
FUZZ_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def seeds() -> Seeds:
    return Seeds.load(CAPTURES)


def damaged(data: st.DataObject, seeds: Seeds, *, repair_checksum: bool) -> list[bytes]:
    """A real frame with some bytes replaced, cut into notifications."""
    # Each frame type gets an equal share: the captures are mostly cell info.
    frame_type = data.draw(st.sampled_from(sorted({f[4] for f in seeds.frames})))
    frame = bytearray(
        data.draw(st.sampled_from([f for f in seeds.frames if f[4] == frame_type]))[
            :FRAME_LENGTH
        ]
    )
    edits = data.draw(
        st.lists(
            st.tuples(st.integers(6, FRAME_LENGTH - 2), st.integers(0, 255)),
            min_size=1,
            max_size=8,
        )
    )
    for offset, value in edits:
        frame[offset] = value
    if repair_checksum:
        frame[-1] = independent_checksum(frame[:-1])
    size = data.draw(st.sampled_from([20, 128, 244, 300]))
    return [bytes(frame[i : i + size]) for i in range(0, FRAME_LENGTH, size)]


def fed(pipeline: Pipeline, chunks: list[bytes]) -> Outcome:
    outcome = Outcome()
    for chunk in chunks:
        feed(pipeline, chunk, outcome)
    return outcome


@FUZZ_SETTINGS
@given(data=st.data(), layout=st.sampled_from(LAYOUT_CHOICES))
def test_damage_that_keeps_the_checksum_is_rejected_or_plausible(
    seeds: Seeds, data: st.DataObject, layout: Protocol | None
) -> None:
    outcome = fed(Pipeline(layout), damaged(data, seeds, repair_checksum=True))
    assert outcome.failures == []
    assert outcome.frames == 1


@FUZZ_SETTINGS
@given(data=st.data(), layout=st.sampled_from(LAYOUT_CHOICES))
def test_damage_that_breaks_the_checksum_never_reaches_a_decoder(
    seeds: Seeds, data: st.DataObject, layout: Protocol | None
) -> None:
    chunks = damaged(data, seeds, repair_checksum=False)
    frame = b"".join(chunks)
    outcome = fed(Pipeline(layout), chunks)
    assert outcome.failures == []
    if independent_checksum(frame[:-1]) != frame[-1]:
        assert outcome.frames == 0
        assert outcome.bad_checksums_dropped == 1
