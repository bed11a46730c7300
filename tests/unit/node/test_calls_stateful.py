"""The CallCorrelator against a model (a FIFO list and one slot), under any order of
request / next_to_send / receive / abandon / close: at most one call outstanding, calls go
out in request order, a call completes (answered or failed by close) at most once and never
after it was abandoned."""

from __future__ import annotations

import itertools

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from csms.errors import ChargerNotConnected, CommandRejected
from csms.node import rpc
from csms.node.calls import CallCorrelator, OutgoingCall

LIMIT = 4


class CorrelatorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        counter = itertools.count()
        self.calls = CallCorrelator(
            "CP-1", max_queued=LIMIT, new_message_id=lambda: f"m{next(counter)}"
        )
        self.requested: list[OutgoingCall] = []  # every call ever requested
        # the model
        self.queue: list[str] = []
        self.outstanding: str | None = None
        self.closed = False
        self.sent: list[str] = []
        self.completed: list[str] = []
        self.abandoned: set[str] = set()

    @rule()
    def request(self) -> None:
        waiting = len(self.queue) + (self.outstanding is not None)
        if self.closed:
            try:
                self.calls.request("ClearCache", {})
            except ChargerNotConnected:
                return
            raise AssertionError("a closed correlator took a call")
        if waiting >= LIMIT:
            try:
                self.calls.request("ClearCache", {})
            except CommandRejected:
                return
            raise AssertionError("the queue limit let a call in")
        call = self.calls.request("ClearCache", {})
        self.requested.append(call)
        self.queue.append(call.message_id)

    @rule()
    def next_to_send(self) -> None:
        call = self.calls.next_to_send()
        if self.closed or self.outstanding is not None or not self.queue:
            assert call is None
            return
        assert call is not None
        assert call.message_id == self.queue.pop(0)  # FIFO
        self.outstanding = call.message_id
        self.sent.append(call.message_id)

    @precondition(lambda self: self.requested)
    @rule(data=st.data(), as_error=st.booleans())
    def receive(self, data: st.DataObject, as_error: bool) -> None:
        call = data.draw(st.sampled_from(self.requested))
        reply: rpc.CallResult | rpc.CallError = (
            rpc.CallError(call.message_id, "GenericError", "", {})
            if as_error
            else rpc.CallResult(call.message_id, {"status": "Accepted"})
        )
        answered = self.calls.receive(reply)
        if call.message_id == self.outstanding:
            assert answered is call
            self.outstanding = None
            self.complete([call])
        else:
            assert answered is None

    @rule()
    def receive_unknown(self) -> None:
        assert self.calls.receive(rpc.CallResult("not-ours", {})) is None

    @precondition(lambda self: self.requested)
    @rule(data=st.data())
    def abandon(self, data: st.DataObject) -> None:
        call = data.draw(st.sampled_from(self.requested))
        self.calls.abandon(call)
        if call.message_id == self.outstanding:
            self.outstanding = None
        elif call.message_id in self.queue:
            self.queue.remove(call.message_id)
        else:
            return  # answered, failed or abandoned already: nothing happens
        self.abandoned.add(call.message_id)

    @rule()
    def close(self) -> None:
        failed = self.calls.close()
        expected = ([] if self.outstanding is None else [self.outstanding]) + self.queue
        assert [call.message_id for call in failed] == expected
        self.complete(failed)
        self.closed = True
        self.outstanding = None
        self.queue = []

    def complete(self, calls: list[OutgoingCall]) -> None:
        for call in calls:
            assert call.message_id not in self.completed, "completed twice"
            assert call.message_id not in self.abandoned, "completed after it was abandoned"
            self.completed.append(call.message_id)

    @invariant()
    def at_most_one_outstanding(self) -> None:
        outstanding = self.calls.outstanding
        assert (outstanding and outstanding.message_id) == self.outstanding
        assert self.calls.waiting == len(self.queue) + (self.outstanding is not None)
        assert self.calls.waiting <= LIMIT

    @invariant()
    def sent_in_request_order(self) -> None:
        order = [call.message_id for call in self.requested]
        positions = [order.index(message_id) for message_id in self.sent]
        assert positions == sorted(positions)


TestCorrelatorModel = CorrelatorMachine.TestCase
TestCorrelatorModel.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
