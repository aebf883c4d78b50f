"""Maps the repository root onto the package ``skelsplat`` (metadata is in pyproject.toml)."""

from setuptools import find_packages, setup

_EXCLUDE = ["tests", "tests.*", "build", "build.*", "docs", "docs.*", "scripts", "scripts.*"]
packages = ["skelsplat"] + [f"skelsplat.{p}" for p in find_packages(".", exclude=_EXCLUDE)]

setup(
    packages=packages,
    package_dir={"skelsplat": "."},
    package_data={"skelsplat.core.bench": ["*.json"]},
)
