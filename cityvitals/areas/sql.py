"""The area hierarchy in SQL, so it outlives Redis."""

from __future__ import annotations

import numpy as np
import shapely
from sqlalchemy import Engine, Float, Integer, String, Text, delete, insert, inspect, select
from sqlalchemy.orm import Mapped, mapped_column

from cityvitals.areas.model import Area
from cityvitals.db import Base


class AreaRow(Base):
    """One area of the hierarchy; geometry as GeoJSON text in lon/lat."""

    __tablename__ = "areas"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent: Mapped[str | None] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(16))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(32))
    population: Mapped[int] = mapped_column(Integer)
    area_km2: Mapped[float] = mapped_column(Float)
    geometry: Mapped[str] = mapped_column(Text)


_COLUMNS = ("id", "parent", "level", "name_zh", "name_en", "kind", "category", "population", "area_km2")


def save_areas(engine: Engine, areas: list[Area]) -> None:
    """Replace the whole stored hierarchy with ``areas`` in one transaction."""
    geometries = shapely.to_geojson(np.array([area.geometry for area in areas], dtype=object))
    rows = [
        {**{column: getattr(area, column) for column in _COLUMNS}, "geometry": geometry}
        for area, geometry in zip(areas, geometries.tolist(), strict=True)
    ]
    with engine.begin() as connection:
        AreaRow.__table__.create(connection, checkfirst=True)
        connection.execute(delete(AreaRow))
        if rows:
            connection.execute(insert(AreaRow), rows)


def load_areas(engine: Engine) -> list[Area]:
    """Return the stored hierarchy in id order, or [] if none was imported."""
    with engine.connect() as connection:
        # schema_for_object honours a schema_translate_map, as create(checkfirst=True) does.
        schema = connection.schema_for_object(AreaRow.__table__)
        if not inspect(connection).has_table(AreaRow.__tablename__, schema=schema):
            return []
        rows = connection.execute(select(AreaRow.__table__).order_by(AreaRow.id)).mappings().all()
    geometries = shapely.from_geojson([row["geometry"] for row in rows]) if rows else []
    return [
        Area(**{column: row[column] for column in _COLUMNS}, geometry=geometry)
        for row, geometry in zip(rows, geometries, strict=True)
    ]
