"""tools/misc/mutation_check.py plants its faults where the code is (make mutation-check)."""
import os.path as osp

import pytest

from tools.misc.mutation_check import FAULTS, REPO_ROOT

from .utils import python_tool


@pytest.mark.parametrize('fault', FAULTS, ids=[f.name for f in FAULTS])
def test_fault_edit_matches_the_code_exactly_once(fault):
    with open(osp.join(REPO_ROOT, fault.path)) as f:
        assert f.read().count(fault.old) == 1
    assert fault.new != fault.old
    for test in fault.tests:
        assert osp.isfile(osp.join(REPO_ROOT, test.split('::')[0])), test


@pytest.mark.slow
def test_mutation_check_catches_a_disabled_neck_check():
    result = python_tool('tools/misc/mutation_check.py', '--faults', 'no-neck-channel-check',
                         timeout=1200)
    assert '| the neck in_channels check disabled | caught |' in result.stdout
    assert 'all 1 faults caught' in result.stdout
