"""Directory API: units and cadres, written by the organisation department's systems."""

from flask.views import MethodView

from backend import wiring
from backend.api.auth import BEARER_SECURITY, require_scope
from backend.api.parsing import Blueprint
from backend.extensions import db
from backend.schemas.directory import CODE_PATH, CadreSchema, UnitSchema
from backend.scoring.vocabulary import level_code
from backend.services.directory import units as directory
from backend.services.directory.units import CadreInput, UnitInput

blp = Blueprint("directory", __name__, url_prefix="/api/v1", description="单位与干部名录")


def unit_body(unit) -> dict:
    """Render a unit as the API shows it."""
    return {"code": unit.code, "name": unit.name, "category": unit.category,
            "parent_code": unit.parent.code if unit.parent else None}


def cadre_body(cadre) -> dict:
    """Render a cadre as the API shows it."""
    return {"code": cadre.code, "name": cadre.name, "unit_code": cadre.unit.code,
            "position": cadre.position, "active": cadre.active, "level": cadre.level}


@blp.route("/units/<string:code>", parameters=CODE_PATH)
class UnitResource(MethodView):
    @require_scope("directory:write")
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(UnitSchema)
    @blp.response(200, UnitSchema, description="已更新")
    @blp.alt_response(201, schema=UnitSchema, description="已创建")
    def put(self, data, code):
        """Create or update a unit."""
        unit, created = directory.upsert_unit(db.session, UnitInput(code=code, **data),
                                             wiring.vocabulary())
        db.session.commit()
        return unit_body(unit), 201 if created else 200


@blp.route("/cadres/<string:code>", parameters=CODE_PATH)
class CadreResource(MethodView):
    @require_scope("directory:write")
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(CadreSchema)
    @blp.response(200, CadreSchema, description="已更新")
    @blp.alt_response(201, schema=CadreSchema, description="已创建")
    def put(self, data, code):
        """Create or update a cadre."""
        data["level"] = level_code(data.get("level"))
        cadre, created = directory.upsert_cadre(db.session, CadreInput(code=code, **data))
        db.session.commit()
        return cadre_body(cadre), 201 if created else 200
