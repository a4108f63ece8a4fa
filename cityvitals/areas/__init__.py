"""The area hierarchy (district → street → community → grid): model, GeoJSON import, checks, demos, SQL."""

from cityvitals.areas.demo import province_demo, pukou_demo
from cityvitals.areas.geojson import PropertyMapping, load_features
from cityvitals.areas.model import LEVELS, Area, AreaTree
from cityvitals.areas.sql import load_areas, save_areas
from cityvitals.areas.validate import Problem, validate

__all__ = [
    "LEVELS",
    "Area",
    "AreaTree",
    "Problem",
    "PropertyMapping",
    "load_areas",
    "load_features",
    "province_demo",
    "pukou_demo",
    "save_areas",
    "validate",
]
