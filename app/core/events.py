"""The in-process domain event bus.

A handler subscribes to an event by name, at one of two moments:

- ``in_transaction``: runs inside the publisher's transaction, right away. It may only
  add rows to the same session, so its rows commit or roll back with the change.
- ``after_commit``: runs once the session has committed; never for a rolled-back change.

Handlers can be switched off by name with the DISABLED_EVENT_HANDLERS setting
(environment: KONTOR_DISABLED_HANDLERS=name,name).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from flask import current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

Moment = Literal["in_transaction", "after_commit"]
Handler = Callable[[dict[str, Any]], None]

_PENDING_KEY = "kontor_after_commit"


@dataclass(frozen=True)
class Subscription:
    event: str
    name: str
    moment: Moment
    handler: Handler


@dataclass
class EventBus:
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    # (event, moment) -> its subscriptions in registration order; rebuilt after any (un)subscribe. Every
    # webhook delivery publishes, so it does not scan every subscription of the app each time.
    _by_event: dict[tuple[str, Moment], list[Subscription]] = field(default_factory=dict, repr=False)

    def subscribe(self, event: str, name: str, moment: Moment = "after_commit") -> Callable[[Handler], Handler]:
        """Register the decorated function as handler `name` of `event`."""

        def register(handler: Handler) -> Handler:
            self.subscriptions[name] = Subscription(event, name, moment, handler)
            self._by_event.clear()
            return handler

        return register

    def unsubscribe(self, name: str) -> None:
        """Remove a handler (tests use this to clean up)."""
        self.subscriptions.pop(name, None)
        self._by_event.clear()

    def handlers(self, event: str, moment: Moment) -> list[Subscription]:
        """The enabled handlers of an event at a moment, in registration order."""
        subs = self._by_event.get((event, moment))
        if subs is None:
            subs = self._by_event[(event, moment)] = [
                sub for sub in self.subscriptions.values() if sub.event == event and sub.moment == moment]
        disabled = current_app.config.get("DISABLED_EVENT_HANDLERS", ()) if has_app_context() else ()
        return [sub for sub in subs if sub.name not in disabled] if disabled else subs

    def publish(self, session: Session, event: str, payload: dict[str, Any]) -> None:
        """Run in-transaction handlers now and queue after-commit ones on the session."""
        for sub in self.handlers(event, "in_transaction"):
            sub.handler(payload)
        pending = session.info.setdefault(_PENDING_KEY, [])
        for sub in self.handlers(event, "after_commit"):
            pending.append((sub, payload))

    def committed(self, event: str, payload: dict[str, Any]) -> None:
        """Run the after-commit handlers of a change the caller committed without a session (autocommit)."""
        for sub in self.handlers(event, "after_commit"):
            _run_one(sub, payload)


bus = EventBus()


def _run_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, [])
    for sub, payload in pending:
        _run_one(sub, payload)


def _run_one(sub: Subscription, payload: dict[str, Any]) -> None:
    try:
        sub.handler(payload)
    except Exception:  # one failing notifier must not hide the committed change from the others
        log.exception("after-commit handler %s failed for %s", sub.name, sub.event)


def _forget_pending(session: Session, *args: Any) -> None:
    session.info.pop(_PENDING_KEY, None)


def install(session_class: type[Session] | Any) -> None:
    """Hook the bus into a session class's commit and rollback."""
    if not sa_event.contains(session_class, "after_commit", _run_after_commit):
        sa_event.listen(session_class, "after_commit", _run_after_commit)
        sa_event.listen(session_class, "after_rollback", _forget_pending)
