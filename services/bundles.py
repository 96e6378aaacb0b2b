"""一件事一次办: one merged guide for a bundle of items.

A person doing 出生一件事 wants one answer, not seven guides: every condition once, the
longest promise (the bundle is done when its slowest item is), each material type once with
the items that need it, and the in-person visits of the bundle — the maximum over its items,
not the sum, because the visits happen together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portal.models import Bundle, Department, ItemVersion, MaterialRequirement, MaterialType
from services.catalogue import in_natural_days
from services.catalogue_query import describe_condition

# The strongest necessity wins when several items ask for the same material type.
NECESSITY_STRENGTH = {"required": 3, "deferrable": 2, "optional": 1, "shared": 0}


@dataclass
class MaterialNeed:
    """One item's requirement for a material type."""

    item_code: str
    item_name: str
    necessity: str
    original: bool
    copies: int
    condition: str
    notes: str


@dataclass
class MergedMaterial:
    material_type: MaterialType
    needs: list[MaterialNeed] = field(default_factory=list)

    @property
    def necessity(self) -> str:
        return max((n.necessity for n in self.needs), key=lambda n: NECESSITY_STRENGTH.get(n, 0))

    @property
    def original(self) -> bool:
        return any(n.original for n in self.needs)

    @property
    def copies(self) -> int:
        return max(n.copies for n in self.needs)

    @property
    def conditional(self) -> bool:
        """True when every item that asks for it does so only in some 情形."""
        return all(n.condition for n in self.needs)

    @property
    def item_names(self) -> list[str]:
        return list(dict.fromkeys(n.item_name for n in self.needs))


@dataclass
class MergedCondition:
    text: str
    item_names: list[str]


@dataclass
class MergedGuide:
    bundle: Bundle
    versions: list[ItemVersion]
    conditions: list[MergedCondition]
    longest: ItemVersion | None  # the item with the longest promise
    visits: int
    visit_reasons: list[tuple[str, str]]  # (item name, reason) for items needing a visit
    materials: list[MergedMaterial]
    departments: list[Department]
    unpublished: int  # items of the bundle without a published guide (left out)

    @property
    def longest_limit(self) -> tuple[int, str] | None:
        if self.longest is None or self.longest.promised_limit is None:
            return None
        return self.longest.promised_limit, self.longest.promised_limit_unit

    @property
    def all_instant(self) -> bool:
        return bool(self.versions) and all(v.case_type == "instant" for v in self.versions)


def merge_bundle_guide(bundle: Bundle) -> MergedGuide:
    """Merge the published guides of a bundle's items (no queries beyond what is loaded:
    use services.catalogue_query.load_bundle to load a bundle for this)."""
    published = [
        (e.item, e.item.published_version)
        for e in bundle.entries
        if e.item.published_version is not None
    ]
    versions = [v for _item, v in published]
    unpublished = len(bundle.entries) - len(versions)

    conditions: dict[str, MergedCondition] = {}
    for v in versions:
        text = (v.conditions or "").strip()
        if text:
            conditions.setdefault(text, MergedCondition(text, [])).item_names.append(v.name)

    longest = max(
        (v for v in versions if v.promised_limit is not None),
        key=lambda v: in_natural_days(v.promised_limit, v.promised_limit_unit),
        default=None,
    )

    materials: dict[int, MergedMaterial] = {}
    for item, v in published:
        requirement: MaterialRequirement
        for requirement in v.requirements:
            merged = materials.setdefault(
                requirement.material_type_id, MergedMaterial(requirement.material_type)
            )
            merged.needs.append(
                MaterialNeed(
                    item_code=item.code,
                    item_name=v.name,
                    necessity=requirement.necessity,
                    original=requirement.original,
                    copies=requirement.copies,
                    condition=describe_condition(v, requirement.condition),
                    notes=requirement.notes,
                )
            )

    departments = list({v.department_id: v.department for v in versions}.values())
    return MergedGuide(
        bundle=bundle,
        versions=versions,
        conditions=list(conditions.values()),
        longest=longest,
        visits=max((v.visits for v in versions), default=0),
        visit_reasons=[(v.name, v.visits_reason) for v in versions if v.visits > 0],
        materials=list(materials.values()),
        departments=departments,
        unpublished=unpublished,
    )
