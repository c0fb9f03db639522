"""The case states a scoring generation keeps in memory: only committed ones, and none across a
rebalance (decision 0021). The unit of work's part runs on PostgreSQL in the integration and
end-to-end suites (every scoring batch goes through it)."""

from __future__ import annotations

from alliance_scoring.adapters.hot_cases import HotCases
from alliance_scoring.domain.case import new_case


def test_what_is_put_is_got_until_it_is_dropped_or_forgotten() -> None:
    hot = HotCases(capacity=10)
    a, b = new_case("clinic-a", "case-a"), new_case("clinic-a", "case-b")
    hot.put([a, b], hot.epoch)
    assert hot.get([("clinic-a", "case-a"), ("clinic-a", "case-c")]) == {("clinic-a", "case-a"): a}
    hot.drop([("clinic-a", "case-a")])
    assert hot.get([("clinic-a", "case-a")]) == {}
    hot.forget()
    assert len(hot) == 0


def test_a_batch_that_began_before_a_rebalance_puts_nothing_back() -> None:
    hot = HotCases(capacity=10)
    began = hot.epoch
    hot.forget()  # partitions revoked while the batch was in flight
    hot.put([new_case("clinic-a", "case-a")], began)
    assert len(hot) == 0


def test_the_least_recently_used_go_first() -> None:
    hot = HotCases(capacity=2)
    cases = [new_case("clinic-a", f"case-{n}") for n in range(3)]
    hot.put(cases[:2], hot.epoch)
    hot.get([("clinic-a", "case-0")])  # used: case-1 is now the oldest
    hot.put(cases[2:], hot.epoch)
    assert set(hot.get([("clinic-a", f"case-{n}") for n in range(3)])) == {
        ("clinic-a", "case-0"),
        ("clinic-a", "case-2"),
    }


def test_capacity_zero_keeps_nothing() -> None:
    hot = HotCases(capacity=0)
    hot.put([new_case("clinic-a", "case-a")], hot.epoch)
    assert len(hot) == 0
