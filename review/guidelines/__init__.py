"""Brand guideline engine: YAML rules written by brand teams, rule types written in Python.

Modelled on Vale: a rule TYPE is code (`rules/<type>.py`, registered with `register`); a rule
INSTANCE is a small YAML file that `extends:` a type. See brand_guidelines/README.md.
"""

from __future__ import annotations

from .context import CheckContext
from .errors import GuidelineError, GuidelineLoadError
from .findings import LEVELS, SCOPES, Finding, blocking
from .loader import load_ruleset
from .registry import register, registered_types
from .rule import BrandEnv, Claim, ContextRule, Message, Opt, OptionError, Rule, ScopeText, TextRule, word_count
from .ruleset import RuleSet

registered_types()  # register the built-in types on import

__all__ = [
    "LEVELS",
    "SCOPES",
    "BrandEnv",
    "CheckContext",
    "Claim",
    "ContextRule",
    "Finding",
    "GuidelineError",
    "GuidelineLoadError",
    "Message",
    "Opt",
    "OptionError",
    "Rule",
    "RuleSet",
    "ScopeText",
    "TextRule",
    "blocking",
    "load_ruleset",
    "register",
    "registered_types",
    "word_count",
]
