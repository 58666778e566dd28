"""The platform's order states, and how they map to Kontor's statuses (push, pull or both)."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.core import ordering, params
from app.core.errors import NotFound, ValidationFailed
from app.core.types import utcnow
from app.extensions import db
from app.integrations.base import PlatformError, PlatformStateDTO
from app.integrations.models import MAPPING_DIRECTIONS, Integration, IntegrationRun, PlatformState, StatusMapping
from app.integrations.services import call_platform, get_integration

log = logging.getLogger("kontor.integrations")

HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def clean_state(dto: PlatformStateDTO) -> PlatformStateDTO:
    """A platform state as Kontor can store it: no NUL bytes, cut to the columns, a colour only if it is #rgb/#rrggbb.

    Platforms hand out whatever their admins typed (`RoyalBlue`, `rgba(0,0,0,.5)`); a colour that
    does not fit is dropped rather than failing the sync.
    """
    colour = params.clean_text(dto.colour)
    return replace(
        dto, external_id=params.clean_text(dto.external_id, params.column_length(PlatformState.external_id)),
        name=params.clean_text(dto.name, params.column_length(PlatformState.name)),
        colour=colour.lower() if HEX_COLOUR.fullmatch(colour) else "",
    )


def sync_states(integration_id: int) -> dict[str, int]:
    """Fetch the platform's order states and store them; states no longer listed are deactivated.

    Every attempt leaves a run in the integration's history; a failed one carries its error in
    words and raises PlatformError, whatever went wrong.
    """
    integration = get_integration(integration_id)
    started = utcnow()
    try:
        fetched = call_platform(integration, lambda client: client.fetch_states())
        counts = _store_states(integration, fetched)
        run = IntegrationRun(integration_id=integration_id, kind="states_sync", started_at=started,
                             finished_at=utcnow(), counts=counts)
        run.say(_l("%(count)s states", count=counts["states"]))
        db.session.add(run)
        db.session.commit()
        return counts
    except Exception as error:
        db.session.rollback()
        message = params.clean_text(error.message) if isinstance(error, PlatformError) else \
            _l("The states could not be stored (%(error)s); nothing was changed.", error=error.__class__.__name__)
        if not isinstance(error, PlatformError):
            log.exception("states sync of integration %s failed", integration_id)
        run = IntegrationRun(integration_id=integration_id, kind="states_sync", started_at=started,
                             finished_at=utcnow(), ok=False)
        run.say(message)
        db.session.add(run)
        db.session.commit()
        if isinstance(error, PlatformError):
            raise
        raise PlatformError(str(message)) from error


def _store_states(integration: Integration, fetched: list[PlatformStateDTO]) -> dict[str, int]:
    existing = {s.external_id: s for s in integration.states}
    counts = {"added": 0, "updated": 0, "deactivated": 0}
    now = utcnow()
    seen: set[str] = set()
    for position, dto in enumerate(clean_state(dto) for dto in fetched):
        if not dto.external_id or dto.external_id in seen:
            continue
        seen.add(dto.external_id)
        state = existing.pop(dto.external_id, None)
        if state is None:
            db.session.add(PlatformState(integration=integration, external_id=dto.external_id, name=dto.name,
                                         colour=dto.colour, read_only=dto.read_only, position=position,
                                         synced_at=now))
            counts["added"] += 1
        else:
            if (state.name, state.colour, state.read_only, state.active) != (dto.name, dto.colour, dto.read_only, True):
                counts["updated"] += 1
            state.name, state.colour, state.read_only, state.active = dto.name, dto.colour, dto.read_only, True
            state.position, state.synced_at = position, now
    for state in existing.values():
        if state.active:
            state.active = False
            counts["deactivated"] += 1
    integration.states_synced_at = now
    db.session.flush()
    return {"states": len(seen), **counts}


# --- status mappings -------------------------------------------------------------


def _validate_mapping(integration: Integration, local_status: str, state: PlatformState | None, direction: str,
                      known_statuses: dict[str, str], ignore_id: int | None = None) -> None:
    if local_status not in known_statuses:
        raise ValidationFailed(_l("There is no Kontor status “%(local_status)s”.", local_status=local_status), field="local_status")
    if state is None or state.integration_id != integration.id:
        raise ValidationFailed(_l("Choose one of this platform's states (sync the states first if the list is empty)."),
                               field="platform_state_id")
    if not state.active:
        raise ValidationFailed(_l("“%(name)s” is no longer offered by the platform.", name=state.name), field="platform_state_id")
    if direction not in MAPPING_DIRECTIONS:
        raise ValidationFailed(_l("Direction must be push, pull or both."), field="direction")
    if state.read_only and direction in ("push", "both"):
        raise ValidationFailed(_l("“%(name)s” is set by the platform itself and cannot be pushed; use pull.", name=state.name),
                               field="direction")
    for other in integration.mappings:
        if other.id == ignore_id:
            continue
        if other.local_status == local_status and other.platform_state_id == state.id:
            raise ValidationFailed(_l("This status and state are already mapped."), field="platform_state_id")
        if (direction in ("pull", "both") and other.direction in ("pull", "both")
                and other.platform_state_id == state.id):
            raise ValidationFailed(
                f"“{state.name}” is already pulled into “{known_statuses.get(other.local_status, other.local_status)}”; "
                "a platform state can be pulled "
                "into only one Kontor status.", field="platform_state_id")


def add_mapping(integration_id: int, local_status: str, platform_state_id: int, direction: str,
                known_statuses: dict[str, str]) -> StatusMapping:
    """Add a mapping row at the end (last in push priority)."""
    integration = get_integration(integration_id)
    state = db.session.get(PlatformState, platform_state_id) if params.is_id(platform_state_id) else None
    _validate_mapping(integration, local_status, state, direction, known_statuses)
    last = db.session.scalar(select(func.max(StatusMapping.position))
                             .where(StatusMapping.integration_id == integration_id)) or 0
    mapping = StatusMapping(integration=integration, local_status=local_status, platform_state=state,
                            direction=direction, position=last + 10)
    db.session.add(mapping)
    db.session.commit()
    return mapping


def get_mapping(integration_id: int, mapping_id: int) -> StatusMapping:
    """The integration's mapping row with that id, or NotFound."""
    mapping = db.session.get(StatusMapping, mapping_id) if params.is_id(mapping_id) else None
    if mapping is None or mapping.integration_id != integration_id:
        raise NotFound(_l("No such mapping."))
    return mapping


def update_mapping(integration_id: int, mapping_id: int, local_status: str, platform_state_id: int,
                   direction: str, known_statuses: dict[str, str]) -> StatusMapping:
    """Change a mapping row; a mistake leaves it as it was."""
    mapping = get_mapping(integration_id, mapping_id)
    state = db.session.get(PlatformState, platform_state_id) if params.is_id(platform_state_id) else None
    _validate_mapping(mapping.integration, local_status, state, direction, known_statuses, ignore_id=mapping.id)
    mapping.local_status, mapping.platform_state, mapping.direction = local_status, state, direction
    db.session.commit()
    return mapping


def delete_mapping(integration_id: int, mapping_id: int) -> None:
    """Remove a mapping row."""
    db.session.delete(get_mapping(integration_id, mapping_id))
    db.session.commit()


def move_mapping(integration_id: int, mapping_id: int, direction: str) -> None:
    """Move a mapping row up or down (up = tried earlier when pushing)."""
    moved = ordering.move(get_integration(integration_id).mappings, mapping_id, direction)
    if moved is None:
        raise NotFound(_l("No such mapping."))
    if moved:
        db.session.commit()


def push_state_for(integration: Integration, local_status: str) -> PlatformState | None:
    """The platform state a local status is pushed as: the first push/both row that matches."""
    for mapping in integration.mappings:
        if mapping.local_status == local_status and mapping.direction in ("push", "both"):
            return mapping.platform_state
    return None


def pull_status_for(integration: Integration, state_id: str) -> str | None:
    """The Kontor status a platform state is pulled into (the pull/both row for it), if any."""
    for mapping in integration.mappings:
        if mapping.direction in ("pull", "both") and mapping.platform_state.external_id == state_id:
            return mapping.local_status
    return None


def state_name(integration: Integration, external_id: str | None) -> str:
    """The platform state's name for an id, or the id itself."""
    for state in integration.states:
        if state.external_id == external_id:
            return state.name
    return external_id or "—"
