"""Scaffolding: new class folders (`new_class`) and the per-class CI workflows (`workflows`)."""
