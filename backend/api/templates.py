"""Survey templates API: what each questionnaire asks, by current version."""

from flask import current_app
from flask.views import MethodView

from backend.api.parsing import Blueprint
from backend.extensions import db
from backend.schemas.templates import TemplateDetailSchema, TemplateListSchema
from backend.services.templates import catalogue as templates

blp = Blueprint("templates", __name__, url_prefix="/api/v1", description="问卷模板")


def summary(row) -> dict:
    """Render a registry row as the API shows it."""
    return {"key": row.key, "version": row.version, "name": row.definition["name"],
            "kind": row.definition["kind"], "digest": row.digest, "definition": row.definition}


@blp.route("/templates")
class TemplateList(MethodView):
    @blp.response(200, TemplateListSchema)
    def get(self):
        """List the current version of every survey template."""
        catalogue = current_app.extensions["catalogue"]
        rows = [templates.current_template(db.session, catalogue, key)
                for key in sorted(catalogue.templates)]
        db.session.commit()
        return {"items": [summary(r) for r in rows]}


@blp.route("/templates/<string:key>")
class TemplateDetail(MethodView):
    @blp.response(200, TemplateDetailSchema)
    def get(self, key):
        """Show the current version of one survey template."""
        row = templates.current_template(db.session, current_app.extensions["catalogue"], key)
        db.session.commit()
        return summary(row)
