"""The HL7 gateway pipeline: durable before ACK, execute once, per-patient order. An MLLP ``Handler``.

For each frame: read MSH (with the sender's charset) → check the sender → route → handler → the
raw bytes, the effects and the outcome (status, ACK, patient, resources) in ONE unit of work,
committed → ACK. A repeat of (sender, MSH-10) that has an ACK gets that ACK again and nothing runs.
A crash before that commit leaves nothing of the message: the sender, never having had an AA,
sends it again and it runs then, once. A message whose handler fails is stored anyway, with its
error, in a unit of its own (the failed one rolled back whole).

Enhanced mode (a commit ACK, CA, as soon as the message is stored) keeps two units: store and
commit → CA → handler + outcome, one commit → application ACK. On a connection (``Peer.effects``)
the second unit runs behind the CA in that connection's ``EffectsQueue``, in arrival order, while
the connection reads and stores the next frames; an original-mode frame waits for that queue first.
A crash between the units leaves the message stored as "received" with no effects: ``recover`` runs
it at the next start, once (``MessageStore.claim`` keeps a second runner, another process, out). A
message found stored without an ACK (such a crash, or a transient failure) takes the same path when
it comes again.

Every unit of work here is ``grouped``: on SQLite, the messages arriving on all connections while a
commit is in flight are stored and executed in one transaction (a savepoint each) and share one
commit (``storage/sql/sqlite_loop.py``); each ACK still waits for the commit of its own message.

Failures become AE/AR with an ERR segment, recorded as the message's outcome (error text masked).
A frame without a readable MSH is refused by the transport (AR from nothing) and not stored: it has
no sender or control id to be kept under.
"""

from __future__ import annotations

import functools
import logging
import traceback
from dataclasses import replace

from adapter.errors import DualcodeError, InternalError, UnparseableMessage
from adapter.hl7v2.ack import DEFAULT_APPLICATION, build_ack, commit_code
from adapter.hl7v2.ackmodes import AckPlan, ack_code
from adapter.hl7v2.charsets import decode_text
from adapter.hl7v2.handler import Peer
from adapter.hl7v2.handlers.parsed import patient_key
from adapter.hl7v2.locks import KeyedLocks
from adapter.hl7v2.msh import Msh, read_msh
from adapter.hl7v2.router import Binding, BindingTable, MessageContext, message_kind
from adapter.hl7v2.senders import SenderConfig, SenderTable, sender_key
from adapter.security.audit import OUTCOME_MINOR, OUTCOME_SERIOUS, Auditor
from adapter.security.logging import raw_hl7_logger
from adapter.security.masking import mask_text
from adapter.storage.ports import Storage, UnitOfWork
from adapter.storage.records import StoredMessage

log = logging.getLogger(__name__)
MAX_RECOVER = 10_000  # received messages run at one start (a crash leaves at most a queue's worth each)


class Gateway:
    def __init__(
        self,
        storage: Storage,
        table: BindingTable,
        *,
        senders: SenderTable,
        auditor: Auditor,
        application: str = DEFAULT_APPLICATION,
    ) -> None:
        self._storage = storage
        self._table = table
        self._senders = senders
        self._auditor = auditor
        self._application = application
        self._locks = KeyedLocks()
        self._raw = raw_hl7_logger()

    @property
    def table(self) -> BindingTable:
        return self._table

    @property
    def senders(self) -> SenderTable:
        return self._senders

    async def __call__(self, frame: bytes, peer: Peer) -> bytes:
        msh, config = self.read(frame)
        self._senders.check(config, peer)
        if not msh.control_id:
            raise UnparseableMessage("MSH-10 (message control id) is empty", hl7_location="MSH-10")
        if self._raw.isEnabledFor(logging.INFO):
            self._raw.info("%s %s", config.key, frame.decode(msh.text_codec, "replace"))
        plan = AckPlan.for_message(msh, config)
        effects = peer.effects
        if effects is not None and not plan.enhanced:
            await effects.drain()  # runs after the effects of the enhanced-mode messages before it
        async with self._locks.hold(f"message|{config.key}|{msh.control_id}"):
            if plan.enhanced:  # a CA once stored: store and commit, then execute
                async with self._storage.unit_of_work(grouped=True) as uow:
                    stored, created = await uow.messages.add(
                        sender=config.key,
                        control_id=msh.control_id,
                        raw=frame,
                        message_type=message_kind(msh) or None,
                    )
            else:
                answer = await self._store_and_execute(frame, msh, config, peer)
                if isinstance(answer, bytes):
                    return _if_wanted(answer, plan)
                stored, created = answer, False
            if not created and stored.ack is not None:
                return await self._repeat(stored.ack, msh, plan, peer)
            accepted = await self._accept(stored, msh, plan, peer)
            if isinstance(accepted, bytes):
                return _if_wanted(accepted, plan)
            if effects is None or not plan.enhanced:
                ack = await self._execute(stored, msh, config, accepted, peer, replay=False)
                return _if_wanted(ack, plan)
        # Enhanced mode on a connection: the effects run behind the CA, in this connection's order,
        # while it reads the next frame (waiting here while its queue is full: backpressure).
        await effects.put(functools.partial(self._behind, stored, msh, config, accepted, plan, peer))
        return b""

    async def _behind(
        self,
        stored: StoredMessage,
        msh: Msh,
        config: SenderConfig,
        binding: Binding,
        plan: AckPlan,
        peer: Peer,
    ) -> None:
        """The effects of a message already answered CA, then its application ACK on the connection."""
        async with self._locks.hold(f"message|{config.key}|{msh.control_id}"):
            ack = await self._execute(stored, msh, config, binding, peer, replay=False)
        answer = _if_wanted(ack, plan)
        if answer and peer.send is not None:
            try:
                await peer.send(answer)
            except (ConnectionError, TimeoutError) as exc:  # the effects are committed; only the ACK is lost
                log.info("HL7 application ACK not delivered: %s", type(exc).__name__)

    async def recover(self, *, limit: int = MAX_RECOVER) -> int:
        """Run the messages left stored as ``received`` (answered CA in enhanced mode, the process
        died before their effects ran), oldest first, sending no ACK. Execute-once holds against
        other processes doing the same (``MessageStore.claim``). Returns how many were run."""
        async with self._storage.unit_of_work() as uow:
            found = await uow.messages.list(status="received", limit=limit)
        if len(found) == limit:
            log.warning("HL7 recovery: %d messages left unprocessed; the rest at the next start", limit)
        for stored in reversed(found):  # newest first in the list
            try:
                msh, config = self.read(stored.raw)
                plan = AckPlan.for_message(msh, config)
                async with self._locks.hold(f"message|{stored.sender}|{stored.control_id}"):
                    await self._run(stored, msh, config, plan, None)
            except Exception as exc:  # one message must not stop the start: it stays for replay
                _log_failure(exc)
        if found:
            log.warning("HL7 recovery: %d message(s) stored but never processed were run", len(found))
        return len(found)

    async def _store_and_execute(
        self, frame: bytes, msh: Msh, config: SenderConfig, peer: Peer
    ) -> bytes | StoredMessage:
        """Original mode: store, route, run and record the outcome in one unit of work; the answer
        once it is committed. When (sender, MSH-10) was stored before, that message: the caller
        decides (its stored ACK again, or run it if it never finished)."""
        failure: DualcodeError
        try:
            binding = self._table.route(msh)
            text = decode_text(frame, msh.codec, charset=msh.charset)
        except DualcodeError as error:  # refused before running: AR (no destination) or AE (charset)
            ack = build_ack(msh, error.hl7_ack, error=error, application=self._application)
            return await self._store_failure(frame, msh, config, error, ack, ack, peer)
        context = MessageContext("", config.key, msh, frame, text, config, peer, False)
        key = patient_key(context)
        try:
            async with self._locks.hold(None if key is None else f"patient|{key}"):
                async with self._storage.unit_of_work(grouped=True) as uow:
                    stored, created = await uow.messages.add(
                        sender=config.key,
                        control_id=msh.control_id,
                        raw=frame,
                        message_type=context.kind or None,
                    )
                    if not created:
                        raise _StoredBefore(stored)
                    ack = await self._handle(replace(context, message_id=stored.id), binding, uow)
            return ack
        except _StoredBefore as before:
            return before.stored
        except DualcodeError as exc:
            failure = exc
        except Exception as exc:
            _log_failure(exc)
            failure = InternalError("internal error while handling the message")
        ack = build_ack(msh, failure.hl7_ack, error=failure, application=self._application)
        # A transient failure (database busy) keeps no ACK: the sender's retry must run the message,
        # not be answered the stored AE forever.
        keep = None if failure.issue_type == "transient" else ack
        return await self._store_failure(frame, msh, config, failure, keep, ack, peer)

    async def _store_failure(
        self,
        frame: bytes,
        msh: Msh,
        config: SenderConfig,
        error: DualcodeError,
        keep: bytes | None,
        ack: bytes,
        peer: Peer,
    ) -> bytes:
        """Store a message that failed (its failed unit rolled back whole) with its error; the ACK
        to send once that is committed."""
        status = "rejected" if error.hl7_ack == "AR" else "error"
        log.info("HL7 %s from %s: %s %s", message_kind(msh), config.key[:40], status, error.code)
        async with self._storage.unit_of_work(grouped=True) as uow:
            stored, created = await uow.messages.add(
                sender=config.key,
                control_id=msh.control_id,
                raw=frame,
                message_type=message_kind(msh) or None,
            )
            if not created and stored.ack is not None:
                return stored.ack  # answered meanwhile (another process): that answer stands
            await self._record_failure(uow, stored, error, keep, peer, status=status)
        return ack

    def read(self, raw: bytes) -> tuple[Msh, SenderConfig]:
        """The MSH, read in the sender's charset when MSH-18 is empty, and the sender's settings."""
        default = self._senders.default_codec
        msh = read_msh(raw, default_codec=default)
        config = self._senders.lookup(
            sender_key(msh.sending_application, msh.sending_facility, msh.component_sep)
        )
        if not config.known and not msh.charset:
            # A non-ASCII name (协和) reads right only in its own charset: try the configured ones.
            for codec in self._senders.codecs - {default}:
                again = read_msh(raw, default_codec=codec)
                found = self._senders.lookup(
                    sender_key(again.sending_application, again.sending_facility, again.component_sep)
                )
                if found.known and found.codec == codec:
                    return again, found
        if not msh.charset and config.codec != default:
            msh = read_msh(raw, default_codec=config.codec)
        return msh, config

    async def reprocess(self, message_id: str) -> StoredMessage:
        """Run a stored message through routing and its handler again (no ACK is sent to anyone);
        its new outcome replaces the old one. Whether it may be re-run is the caller's decision."""
        async with self._storage.unit_of_work() as uow:
            stored = await uow.messages.get(message_id)
        msh, config = self.read(stored.raw)
        plan = AckPlan.for_message(msh, config)
        async with self._locks.hold(f"message|{stored.sender}|{stored.control_id}"):
            await self._run(stored, msh, config, plan, None, replay=True)
        async with self._storage.unit_of_work() as uow:
            return await uow.messages.get(message_id)

    async def _repeat(self, ack: bytes, msh: Msh, plan: AckPlan, peer: Peer) -> bytes:
        """A repeated (sender, MSH-10): the stored answer again, executed nothing."""
        log.info(
            "HL7 duplicate %s from %s: stored ACK repeated", message_kind(msh), msh.sending_facility[:20]
        )
        code = ack_code(ack)
        if plan.enhanced and not code.startswith("C") and plan.wants_commit(True) and peer.send is not None:
            await peer.send(build_ack(msh, "CA", application=self._application))
        return _if_wanted(ack, plan)

    async def _run(
        self,
        stored: StoredMessage,
        msh: Msh,
        config: SenderConfig,
        plan: AckPlan,
        peer: Peer | None,
        *,
        replay: bool = False,
    ) -> bytes:
        accepted = await self._accept(stored, msh, plan, peer)
        if isinstance(accepted, bytes):
            return accepted
        return await self._execute(stored, msh, config, accepted, peer, replay=replay)

    async def _accept(
        self, stored: StoredMessage, msh: Msh, plan: AckPlan, peer: Peer | None
    ) -> Binding | bytes:
        """The binding of a stored message, after its CA (when asked for); or the refusal (AR, or CR
        in enhanced mode), recorded."""
        try:
            binding = self._table.route(msh)
        except DualcodeError as error:  # refused before acceptance: AR, or CR in enhanced mode
            code = commit_code(error.hl7_ack) if plan.enhanced else error.hl7_ack
            ack = build_ack(msh, code, error=error, application=self._application)
            await self._fail(stored, error, ack, peer, status="rejected")
            return ack
        if plan.wants_commit(True) and peer is not None and peer.send is not None:
            await peer.send(build_ack(msh, "CA", application=self._application))
        return binding

    async def _execute(
        self,
        stored: StoredMessage,
        msh: Msh,
        config: SenderConfig,
        binding: Binding,
        peer: Peer | None,
        *,
        replay: bool,
    ) -> bytes:
        error: DualcodeError
        try:
            text = decode_text(stored.raw, msh.codec, charset=msh.charset)
            context = MessageContext(stored.id, config.key, msh, stored.raw, text, config, peer, replay)
            key = patient_key(context)
            async with self._locks.hold(None if key is None else f"patient|{key}"):
                async with self._storage.unit_of_work(grouped=not replay) as uow:
                    # Another connection, or process (recovery), may have run it meanwhile.
                    if not replay and not await uow.messages.claim(stored.id):
                        current = await uow.messages.get(stored.id)
                        if current.ack is not None:
                            return current.ack
                    ack = await self._handle(context, binding, uow)
            return ack
        except DualcodeError as exc:
            error = exc
        except Exception as exc:
            _log_failure(exc)
            error = InternalError("internal error while handling the message")
        ack = build_ack(msh, error.hl7_ack, error=error, application=self._application)
        # A transient failure (database busy) keeps no ACK: the sender's retry must run the message,
        # not be answered the stored AE forever.
        keep = None if error.issue_type == "transient" else ack
        await self._fail(stored, error, keep, peer, status="rejected" if error.hl7_ack == "AR" else "error")
        return ack

    async def _handle(self, context: MessageContext, binding: Binding, uow: UnitOfWork) -> bytes:
        """Run the handler and record the outcome and its audit, in the caller's unit of work."""
        result = await binding.handler(context, uow)
        ack = result.response or build_ack(
            context.msh, "AA", text=result.ack_text, application=self._application
        )
        await uow.messages.set_outcome(
            context.message_id,
            status="processed",
            ack=ack,
            patient_id=result.patient_id,
            resources=result.resources,
        )
        await self._auditor.record(
            uow,
            agent=f"mllp:{context.sender}",
            action="E",
            operation=f"hl7 {context.kind}",
            patient_id=result.patient_id,
            resource=result.resources[0] if result.resources else None,
            source_ip=context.peer.host if context.peer else None,
            detail={
                "message": context.message_id,
                "binding": binding.name,
                "replay": str(context.replay).lower(),
            },
        )
        return ack

    async def _fail(
        self,
        stored: StoredMessage,
        error: DualcodeError,
        ack: bytes | None,
        peer: Peer | None,
        *,
        status: str,
    ) -> None:
        log.info("HL7 %s from %s: %s %s", stored.message_type, stored.sender[:40], status, error.code)
        async with self._storage.unit_of_work(grouped=True) as uow:
            await self._record_failure(uow, stored, error, ack, peer, status=status)

    async def _record_failure(
        self,
        uow: UnitOfWork,
        stored: StoredMessage,
        error: DualcodeError,
        ack: bytes | None,
        peer: Peer | None,
        *,
        status: str,
    ) -> None:
        await uow.messages.set_outcome(stored.id, status=status, ack=ack, error=mask_text(str(error)))
        await self._auditor.record(
            uow,
            agent=f"mllp:{stored.sender}",
            action="E",
            operation=f"hl7 {stored.message_type or '(none)'}",
            outcome=OUTCOME_MINOR if status == "rejected" else OUTCOME_SERIOUS,
            source_ip=peer.host if peer else None,
            detail={"message": stored.id, "error": error.code},
        )


class _StoredBefore(Exception):
    """(sender, MSH-10) is in the store already: leave the unit of work (it wrote nothing)."""

    def __init__(self, stored: StoredMessage) -> None:
        super().__init__("stored before")
        self.stored = stored


def _if_wanted(ack: bytes, plan: AckPlan) -> bytes:
    code = ack_code(ack)
    if code.startswith("C"):
        return ack if plan.wants_commit(code == "CA") else b""
    return ack if plan.wants_application(code) else b""


def _log_failure(exc: BaseException) -> None:
    # The exception's text may quote message content: log its type and where, never its arguments.
    where = "".join(traceback.format_tb(exc.__traceback__))
    log.error("HL7 handler failed: %s\n%s", type(exc).__name__, where)
