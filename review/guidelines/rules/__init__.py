"""Built-in rule types, one module each; importing this package registers them all."""

from . import (  # noqa: F401
    budget,
    capitalization,
    claims,
    conditional,
    existence,
    fixed,
    grounding,
    leak,
    length,
    occurrence,
    pii,
    readability,
    required,
    sensitive,
    substitution,
)
