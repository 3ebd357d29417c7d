"""Where releases are promoted: pure logic of release records, pointers, history and hub settings.

The effects (registry tags, store sets, Dagster events) are in ``jh_pipeline.defs.release_steps``;
this package decides and renders: what a release recorded (``records``), where a pointer goes and
what "the previous production" is (``pointers``), what changed between releases (``history``) and
the hub settings pinned by digest (``hub``).
"""
