"""The bulk jobs' pause of the cycle collector must never outlive the job (a worker runs many jobs)."""

import gc
import weakref

import pytest

from core.bulk import cyclic_gc_paused


class _Node:
    pass


def test_the_collector_is_back_and_cycles_are_freed_after_a_bulk_job_even_one_that_fails():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        assert not gc.isenabled()
        node = _Node()
        node.me = node  # a cycle only the collector can free
        alive = weakref.ref(node)
        del node
        raise RuntimeError("the job failed")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert alive() is None
