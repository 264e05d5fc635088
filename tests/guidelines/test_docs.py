import re

import pytest

from review.guidelines import registered_types
from review.guidelines.testing import GUIDELINES

README = (GUIDELINES / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(registered_types()))
def test_every_rule_type_is_documented(name):
    heading = re.search(rf"^#+\s+`?{re.escape(name)}`?\s*$", README, re.MULTILINE)
    example = re.search(rf"^extends:\s*{re.escape(name)}\s*$", README, re.MULTILINE)
    assert heading and example, f"rule type '{name}' needs a heading and an 'extends: {name}' example in brand_guidelines/README.md"


BLOCKS = [b for b in re.findall(r"```yaml\n(.*?)```", README, re.DOTALL) if b.startswith("extends:")]


@pytest.mark.parametrize("block", BLOCKS, ids=[b.split("\n")[0] for b in BLOCKS])
def test_readme_examples_load(tmp_path, block):
    from review.guidelines.testing import one_rule

    assert one_rule(tmp_path, block).rules
