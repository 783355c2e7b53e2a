"""The fast path's batches, overlapped: a batch is checked while the one before is written.

The general path takes each batch in turn: read and parse it, check it, write and commit it.
Here the writes and commit of batch N run in a thread while the main thread parses batch
N+1 and checks it in a transaction of its own, so the database's work and Python's overlap
on two cores. The checks of N+1 then ran before N was committed, so they saw the roster
without N's writes. They are kept only if N's writes cannot have changed any answer:

- N+1 names no Database ID, username, External Assigned ID or class/group name (new or
  stored) that N named; a shared one could be an earlier row, a holder N took or gave up,
  or a record N changed;
- N created no record, or no row of N+1 names a Database ID that was not found (it could be
  one N just created);
- N's writes kept every outcome N was decided with (a write-time error made some fail, so
  their claims and changes were never made).

Otherwise N+1 is checked again once N is committed: the outcome is always what checking the
batches one after the other gives (tests compare it with the general path on the corpus,
in batches of two rows). A cancel or a stop is noticed after each commit, as on the
general path; a batch checked but not yet written is then dropped, nothing of it applied.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from contextvars import copy_context
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from jobs.import_apply import apply_batch, batch_committed
from jobs.import_checks import Decision, ImportPlan, decide_batch, touched_keys
from jobs.import_rows import RowDraft, RowOutcome
from jobs.lifecycle import JobContext
from jobs.password_pool import PasswordPool
from jobs.process_settings import quick_thread_switches

Rows = list[tuple[int, list[str]]]


class BatchRunner(Protocol):
    """Takes every batch `next_rows` gives through the checks and the writes, telling
    `committed` of each once it is committed, in order: `apply_overlapped`, or
    `jobs.imports.apply_in_turn`."""

    def __call__(
        self,
        ctx: JobContext,
        plan: ImportPlan,
        next_rows: Callable[[], Rows],
        parse: Callable[[Rows], list[RowDraft]],
        passwords: PasswordPool,
        *,
        committed: Callable[[Rows, list[Decision]], None],
    ) -> None: ...


@dataclass
class _Checked:
    """A batch checked in its own open transaction, not written yet."""

    rows: Rows
    session: Session
    decisions: list[Decision]
    keys: set[tuple[str, Any]]

    def may_depend_on(self, written: _Written) -> bool:
        """Whether the batch written meanwhile may have changed one of these answers."""
        if written.outcomes_changed() or not self.keys.isdisjoint(written.checked.keys):
            return True
        unknown_id = any(d.draft.record_id is not None and d.stored is None for d in self.decisions)
        return unknown_id and written.created


@dataclass
class _Written:
    """A checked batch handed to the writer thread."""

    checked: _Checked
    future: Future[None]
    outcomes: list[RowOutcome]  # as checked, before the writes

    @property
    def created(self) -> bool:
        return RowOutcome.CREATED in self.outcomes

    def outcomes_changed(self) -> bool:
        return [d.outcome for d in self.checked.decisions] != self.outcomes


def apply_overlapped(
    ctx: JobContext,
    plan: ImportPlan,
    next_rows: Callable[[], Rows],
    parse: Callable[[Rows], list[RowDraft]],
    passwords: PasswordPool,
    *,
    committed: Callable[[Rows, list[Decision]], None],
) -> None:
    """Check, write and commit every batch of rows `next_rows` gives, each write overlapping
    the next batch's reading, parsing and checks; `committed` is told of each batch, in
    order, once it is committed."""
    with ExitStack() as stack:
        stack.enter_context(quick_thread_switches())
        # closed last: the writer is waited for first, whatever stops the loop
        sessions = _Sessions(ctx, stack)
        writer = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="import-writes"))
        written: _Written | None = None
        first = True
        while rows := next_rows():
            checked = _check(sessions, plan, rows, parse, passwords)
            if written is not None:
                _finish(ctx, plan, sessions, written, first=first, committed=committed)
                first = False
                if checked.may_depend_on(written):
                    # the checks filled the drafts' refusals: a second check parses afresh
                    sessions.close(checked.session)
                    checked = _check(sessions, plan, rows, parse, passwords)
            written = _submit(writer, plan, checked, passwords)
        if written is not None:
            _finish(ctx, plan, sessions, written, first=first, committed=committed)


def _check(
    sessions: _Sessions,
    plan: ImportPlan,
    rows: Rows,
    parse: Callable[[Rows], list[RowDraft]],
    passwords: PasswordPool,
) -> _Checked:
    session = sessions.open()
    decisions = decide_batch(session, plan, parse(rows), verify=passwords.verify_all)
    return _Checked(rows, session, decisions, touched_keys(plan, decisions))


def _submit(
    writer: ThreadPoolExecutor, plan: ImportPlan, checked: _Checked, passwords: PasswordPool
) -> _Written:
    outcomes = [d.outcome for d in checked.decisions]
    future = writer.submit(copy_context().run, _write, checked, plan, passwords)
    return _Written(checked, future, outcomes)


def _write(checked: _Checked, plan: ImportPlan, passwords: PasswordPool) -> None:
    session = checked.session
    try:
        apply_batch(session, plan, checked.decisions, hashes=passwords.hash_all)
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _finish(
    ctx: JobContext,
    plan: ImportPlan,
    sessions: _Sessions,
    written: _Written,
    *,
    first: bool,
    committed: Callable[[Rows, list[Decision]], None],
) -> None:
    """Wait for the batch's commit, then do what follows a commit on the general path."""
    try:
        written.future.result()
    finally:
        sessions.close(written.checked.session)
    batch_committed(ctx, plan.job_id, first=first)
    committed(written.checked.rows, written.checked.decisions)


class _Sessions:
    """The checks' sessions: each closed (rolled back if not committed) when done, and all
    of them if the loop stops early."""

    def __init__(self, ctx: JobContext, stack: ExitStack) -> None:
        self._ctx = ctx
        self._open: list[Session] = []
        stack.callback(self._close_all)

    def open(self) -> Session:
        session = self._ctx.sessions()
        self._open.append(session)
        return session

    def close(self, session: Session) -> None:
        session.close()
        self._open.remove(session)

    def _close_all(self) -> None:
        for session in self._open:
            session.close()
