"""Supplier feed pages: list, add, column mapping with preview, imports with progress and problem reports.

Viewers see the feeds and their imports; what shows the feed's content (preview, invalid rows)
and what starts work (mapping, import) needs an operator; where a feed comes from, an admin.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _

from app.core.auth import require_role, role_required
from app.core.errors import ValidationFailed
from app.core.htmx import render_fragment
from app.core.transactions import refusal_shown
from app.extensions import htmx
from app.suppliers import imports, services
from app.suppliers.forms import MAPPING_LABELS, FeedForm, MappingForm
from app.suppliers.parsing import FeedError

bp = Blueprint("suppliers", __name__, url_prefix="/feeds")


@bp.get("")
def index():
    """Every supplier feed with its last import."""
    feeds = services.list_feeds()
    return render_template("suppliers/index.html", feeds=feeds,
                           last={feed.id: imports.latest_import(feed.id) for feed in feeds})


def _feed_form(**kwargs) -> FeedForm:
    form = FeedForm(**kwargs)
    form.location.description = (f"https://supplier.example/feed.csv, or a file in the feeds folder "
                                 f"{services.feeds_dir()}, e.g. supplier.csv")
    return form


def _save(feed, form: FeedForm):
    upload = request.files.get("upload")
    return services.save_feed(
        feed, name=form.name.data or "", source_type=form.source_type.data, location=form.location.data or "",
        format=form.format.data, item_path=form.item_path.data or "", max_mb=form.max_mb.data or 200,
        upload=upload.stream if upload and upload.filename else None,
        upload_name=upload.filename if upload and upload.filename else "",
        missing_products=form.missing_products.data or "keep", missing_after=form.missing_after.data or 3)


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin")
def create():
    """Add a supplier feed."""
    form = _feed_form()
    if form.validate_on_submit():
        with refusal_shown(form, "name"):
            feed = _save(None, form)
            flash(_("Feed %(name)s added. Check the preview and map its columns.", name=feed.name), "success")
            return redirect(url_for("suppliers.detail", feed_id=feed.id))
    return render_template("suppliers/form.html", form=form, feed=None), 422 if form.errors else 200


@bp.route("/<int:feed_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def edit(feed_id: int):
    """Change where a feed comes from and its format."""
    feed = services.get_feed(feed_id)
    form = _feed_form(data={"name": feed.name, **feed.settings}) if request.method == "GET" else _feed_form()
    if form.validate_on_submit():
        with refusal_shown(form, "name"):
            _save(feed, form)
            flash(_("Feed saved."), "success")
            return redirect(url_for("suppliers.detail", feed_id=feed.id))
    return render_template("suppliers/form.html", form=form, feed=feed), 422 if form.errors else 200


@bp.get("/<int:feed_id>")
def detail(feed_id: int):
    """The feed: mapping, preview, imports."""
    feed = services.get_feed(feed_id)
    form = MappingForm(formdata=None, data=feed.settings.get("mapping") or {})
    form.set_headers(feed.settings.get("headers") or [])
    return render_template("suppliers/detail.html", feed=feed, form=form, labels=MAPPING_LABELS,
                           imports=imports.recent_imports(feed.id), latest=imports.latest_import(feed.id),
                           missing_rule=services.missing_policy(feed).describe())


@bp.get("/<int:feed_id>/preview")
@role_required("operator")
def preview(feed_id: int):
    """The first 20 rows as they will be read, and the headers for the mapping (fragment)."""
    feed = services.get_feed(feed_id)
    try:
        shown = services.preview(feed_id)
        error = None
    except FeedError as failure:
        shown, error = None, str(failure)
    if not htmx:
        if error:
            flash(error, "error")
        return redirect(url_for("suppliers.detail", feed_id=feed_id))
    form = MappingForm(formdata=None, data=feed.settings.get("mapping") or {})
    form.set_headers(shown["headers"] if shown else feed.settings.get("headers") or [])
    return render_fragment("suppliers/_preview.html", feed=feed, shown=shown, error=error, form=form,
                           labels=MAPPING_LABELS)


@bp.post("/<int:feed_id>/mapping")
@role_required("operator")
def save_mapping(feed_id: int):
    """Save the column mapping; the preview is read again with it."""
    try:
        services.save_mapping(feed_id, request.form.to_dict())
        flash(_("Columns mapped."), "success") if not htmx else None
    except ValidationFailed as error:
        if not htmx:
            flash(error.message, "error")
            return redirect(url_for("suppliers.detail", feed_id=feed_id))
        feed = services.get_feed(feed_id)
        form = MappingForm(formdata=None, data=request.form.to_dict())
        form.set_headers(feed.settings.get("headers") or [])
        return render_fragment("suppliers/_preview.html", 422, feed=feed, shown=None, error=error.message,
                               form=form, labels=MAPPING_LABELS)
    if not htmx:
        return redirect(url_for("suppliers.detail", feed_id=feed_id))
    return preview(feed_id)


@bp.post("/<int:feed_id>/imports")
def start_import(feed_id: int):
    """Start an import now; the progress bar follows it."""
    require_role("operator")
    try:
        feed_import = imports.queue_import(feed_id)
    except ValidationFailed as error:
        if htmx:
            return render_fragment("_error.html", 422, message=error.message)
        flash(error.message, "error")
        return redirect(url_for("suppliers.detail", feed_id=feed_id))
    if not htmx:
        return redirect(url_for("suppliers.detail", feed_id=feed_id))
    return render_fragment("suppliers/_progress.html", feed_import=feed_import)


@bp.get("/imports/<int:import_id>")
def progress(import_id: int):
    """An import's progress bar (polls itself until the import finishes)."""
    feed_import = imports.get_import(import_id)
    if not htmx:
        return redirect(url_for("suppliers.detail", feed_id=feed_import.feed_id))
    return render_fragment("suppliers/_progress.html", feed_import=feed_import)


@bp.get("/imports/<int:import_id>/problems.csv")
@role_required("operator")
def problems(import_id: int):
    """Download the rows an import could not read, with line numbers and reasons (they show the feed's content)."""
    feed_import = imports.get_import(import_id)
    return Response(stream_with_context(imports.problems_csv(import_id)), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=feed-{feed_import.feed_id}-"
                                                    f"import-{import_id}-problems.csv"})
