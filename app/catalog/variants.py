"""Derived variants: a version built from a file by dropping the items that carry some tags.

The OCA's "Version Without NUPAS Items" is the first user: ``oca 2015.2`` tags its 18 NUPAS
sub-areas and declares ``variants: [{key: core, drop_tags: [nupas], ...}]``; the catalog then
offers ``oca 2015.2-core`` as an instrument version of its own, so templates, imports, scoring and
comparisons work on it without any other code knowing that it was derived.
"""

from __future__ import annotations

from typing import Any

from app.domain.instrument import DerivedFrom, Instrument, Supersedes, Variant


def variant_version(instrument: Instrument, variant: Variant) -> str:
    return f"{instrument.version}-{variant.key}"


def derive(instrument: Instrument, variant: Variant) -> Instrument:
    """The instrument without the items tagged with any of ``variant.drop_tags``.

    Areas left without items and dimensions left without areas go too. The result supersedes the
    full version with an identity map in which every dropped item maps to null, so a baseline on
    the full version and an endline on the variant compare on the items they share.
    """
    drop = set(variant.drop_tags)
    data: dict[str, Any] = instrument.model_dump(mode="python", exclude_none=True)
    dimensions: list[dict[str, Any]] = []
    dropped: list[str] = []
    for dim in data["dimensions"]:
        areas = []
        for area in dim["areas"]:
            kept = [i for i in area["items"] if not drop & set(i.get("tags", ()))]
            dropped += [i["key"] for i in area["items"] if drop & set(i.get("tags", ()))]
            if kept:
                areas.append({**area, "items": kept})
        if areas:
            dimensions.append({**dim, "areas": areas})
    data.update(
        version=variant_version(instrument, variant),
        title=variant.title.model_dump(),
        description=variant.description.model_dump(),
        dimensions=dimensions,
        variants=(),
        supersedes=Supersedes(
            version=instrument.version,
            items={k: (None if k in dropped else k) for k in sorted(instrument.item_keys)},
        ).model_dump(),
        derived_from=DerivedFrom(
            version=instrument.version,
            variant=variant.key,
            dropped_tags=tuple(sorted(drop)),
            dropped_items=tuple(dropped),
        ).model_dump(),
    )
    return Instrument.model_validate(data)
