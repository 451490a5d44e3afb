"""Writing catalogues in the file format of ``docs/catalogue-format.md``.

The inverse of :mod:`app.domain.catalogue_format`: what these functions write, that
module reads back to equal values (tested by a round trip).
"""

from __future__ import annotations

from typing import Any

from app.domain.catalogue import Bundle, Catalogue, Material, ServiceItem, TimeLimit

FORMAT_NAME = "yichuang-catalogue"
FORMAT_VERSION = 1


def _limit_json(limit: TimeLimit) -> dict[str, Any]:
    return {"value": limit.value, "unit": str(limit.unit)}


def item_to_json(item: ServiceItem) -> dict[str, Any]:
    """The JSON object for one item, exactly as the file format writes it."""
    out: dict[str, Any] = {
        "code": item.code, "name": item.name,
        "department": {"name": item.department.name, "code": item.department.code},
        "category": str(item.category), "level": str(item.level), "kind": str(item.kind),
        "legal_limit": _limit_json(item.legal_limit),
        "promised_limit": _limit_json(item.promised_limit),
        "conditions": item.conditions, "basis": item.basis,
        "fee": ({"free": True} if item.fee.free else
                {"free": False, "amount": item.fee.amount, "basis": item.fee.basis}),
        "place": item.place, "hours": item.hours, "phone": item.phone,
        "online": item.online, "visits": item.visits,
        "materials": [_material_json(m) for m in item.materials],
        "scenarios": [{"id": s.id, "name": s.name, "adds": list(s.adds),
                       "removes": list(s.removes)} for s in item.scenarios],
        "keywords": list(item.keywords),
        "version": item.version,
        "effective_from": item.effective_from.isoformat() if item.effective_from else None,
        "withdrawn_at": item.withdrawn_at.isoformat() if item.withdrawn_at else None,
    }
    # Only when set: items stored before the field existed keep their exact body (and hash).
    if item.result:
        out["result"] = item.result
    if item.special_procedures:
        out["special_procedures"] = item.special_procedures
    if item.correction_limit is not None:
        out["correction_limit"] = _limit_json(item.correction_limit)
    if item.deferral_consequence:
        out["deferral_consequence"] = item.deferral_consequence
    return out


def _material_json(m: Material) -> dict[str, Any]:
    return {
        "id": m.id, "name": m.name, "form": str(m.form), "copies": m.copies,
        "necessity": str(m.necessity), "deferrable": m.deferrable,
        "commitment": m.commitment, "source": str(m.source), "note": m.note,
        "template": m.template,
    }


def bundle_to_json(bundle: Bundle) -> dict[str, Any]:
    return {"code": bundle.code, "name": bundle.name, "items": list(bundle.item_codes),
            "description": bundle.description}


def catalogue_to_json(catalogue: Catalogue) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "version": catalogue.version,
        "published_at": catalogue.published_at.isoformat() if catalogue.published_at else None,
        "publisher": catalogue.publisher,
        "items": [item_to_json(i) for i in catalogue.items],
        "bundles": [bundle_to_json(b) for b in catalogue.bundles],
    }
