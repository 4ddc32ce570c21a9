"""Op set v1, registered family by family (importing this package fills the registry)."""

from . import elementwise, linalg, normalization, quantization, reduction, shape, vision  # noqa: F401
