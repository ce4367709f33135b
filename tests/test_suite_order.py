"""The default suite's schedule (tests/conftest.py): every test file has a measured time, the
files reach xdist's workers longest first, each file's tests in their own order, and each worker
computes on its share of the cores."""
import glob
import os
import os.path as osp
from types import SimpleNamespace

import torch

from .conftest import FILE_SECONDS, pytest_collection_modifyitems, share_the_cores

TESTS = osp.dirname(osp.abspath(__file__))


def test_every_test_file_has_a_measured_time():
    files = {osp.basename(p) for p in glob.glob(osp.join(TESTS, 'test_*.py'))}
    assert files - set(FILE_SECONDS) == set(), 'time the new file: pytest --durations=0'
    assert set(FILE_SECONDS) - files == set(), 'a timed file is gone: drop its entry'


def test_files_start_longest_first_and_keep_their_tests_in_order():
    def item(name, test):
        return SimpleNamespace(fspath=osp.join(TESTS, name), test=test)
    items = [item('test_hosts.py', 'a'), item('test_resume.py', 'b'), item('test_new.py', 'c'),
             item('test_hosts.py', 'd'), item('test_resume.py', 'e')]
    pytest_collection_modifyitems(None, items)
    assert [(osp.basename(i.fspath), i.test) for i in items] == [
        ('test_new.py', 'c'),  # unknown time: first
        ('test_resume.py', 'b'), ('test_resume.py', 'e'),
        ('test_hosts.py', 'a'), ('test_hosts.py', 'd')]


def test_a_worker_computes_on_its_share_of_the_cores():
    cores = len(os.sched_getaffinity(0))
    threads = torch.get_num_threads()
    workers = os.environ.get('PYTEST_XDIST_WORKER_COUNT')
    if workers:  # under make test: set when the worker started, before any test ran
        assert threads == max(1, cores // int(workers))
    try:
        for workers in (1, 2, cores + 1):
            share_the_cores(workers)
            assert torch.get_num_threads() == max(1, cores // workers)
    finally:
        torch.set_num_threads(threads)


def test_a_default_scope_left_current_by_a_test_1_of_2():
    from mmengine.registry import DefaultScope
    DefaultScope.get_instance('left-by-a-test', scope_name='mmseg')  # as a Runner leaves it
    assert DefaultScope.get_current_instance().scope_name == 'mmseg'


def test_a_default_scope_left_current_by_a_test_2_of_2_is_gone_in_the_next():
    from mmengine.registry import DefaultScope
    current = DefaultScope.get_current_instance()
    assert current is None or current.scope_name != 'mmseg'
