"""One change, one transaction: a refused change saves nothing and says why, next to its field."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from wtforms import Form, StringField

from app.core.errors import Conflict, ValidationFailed
from app.core.transactions import committed, refusal_shown
from app.extensions import db
from app.integrations.models import Integration
from tests.factories import make_integration


class NameForm(Form):
    name = StringField()
    kind = StringField()


def _integrations() -> int:
    return db.session.scalar(select(func.count(Integration.id)))


def test_a_refused_change_is_rolled_back_and_shown_next_to_the_field_it_names(app):
    form = NameForm()
    with refusal_shown(form, "name") as refusal:
        db.session.add(Integration(kind="generic", name="Half saved"))
        db.session.flush()
        raise ValidationFailed("Pick a kind of shop.", field="kind")
    assert refusal and refusal.message == "Pick a kind of shop."
    assert form.kind.errors == ["Pick a kind of shop."] and not form.name.errors
    assert _integrations() == 0


def test_a_refusal_without_a_field_lands_on_the_default_one_and_a_clean_change_is_no_refusal(app):
    form = NameForm()
    with refusal_shown(form, "name") as refusal:
        raise ValidationFailed("That name is taken.")
    assert form.name.errors == ["That name is taken."]
    with refusal_shown() as clean:
        pass
    assert not clean and clean.message is None


def test_other_failures_are_not_hidden(app):
    with pytest.raises(RuntimeError), refusal_shown(NameForm(), "name"):
        raise RuntimeError("a bug, not a refusal")


def test_committed_keeps_the_change_or_nothing(app):
    with committed():
        db.session.add(Integration(kind="generic", name="Kept"))
    with pytest.raises(RuntimeError), committed():
        db.session.add(Integration(kind="generic", name="Dropped"))
        db.session.flush()
        raise RuntimeError("stop")
    assert [i.name for i in db.session.scalars(select(Integration))] == ["Kept"]


def test_a_unique_clash_is_a_conflict_in_words_when_the_caller_names_it(app):
    first_id = make_integration("generic", name="Shop").id
    db.session.expunge_all()  # a second row with the same key, as another request would insert it
    with pytest.raises(Conflict, match="someone added it"), committed(duplicate="someone added it at the same moment"):
        db.session.add(Integration(id=first_id, kind="generic", name="Twin"))
    assert _integrations() == 1
