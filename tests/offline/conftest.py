from tests.support.channel import local_channel, rattler_cache  # noqa: F401  (fixtures)
