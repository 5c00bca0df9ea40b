"""Fixture plugins shared by every test layer."""

pytest_plugins = [
    "tests.fixtures_aws",
    "tests.fixtures_fake_discord",
    "tests.fixtures_audio",
    "tests.fixtures_interactions",
]
