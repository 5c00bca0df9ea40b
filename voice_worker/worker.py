"""The worker process: gateway session + consumer + sessions + health, and a clean shutdown.

``Worker.run()`` returns an exit code: 0 after a clean stop, 78 (EX_CONFIG) for a fatal
configuration error (bad token, DAVE missing: restarting can't help), 1 when the gateway
session failed otherwise. ``request_stop()`` (wired to SIGTERM/SIGINT by the CLI) stops taking
jobs, gives running jobs ``worker_shutdown_grace_s``, hands sessions over (snapshot saved,
voice left), closes the gateway and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import discord
import structlog
from discord.voice_state import has_dave

from shared.queue import Inboxes, JobQueue, QueueUnavailable
from shared.settings import Settings
from shared.state import StateStore, StoreUnavailable
from voice_worker.consumer import Consumer
from voice_worker.durable_store import DurableSessionStore
from voice_worker.endpoints import point_discord_py
from voice_worker.errors import FatalConfigError
from voice_worker.fleet_signals import FleetSignals
from voice_worker.gateway_client import GatewayClient, RawInteractionSink
from voice_worker.gc_policy import GcPauses, freeze_start_up_heap
from voice_worker.handlers import CommandHandlers
from voice_worker.health import HealthServer
from voice_worker.holding import HOLD_S
from voice_worker.idempotency import HandledJobs, LedgerJobs, RecentJobs
from voice_worker.identify import BackoffIdentifyGate, IdentifyGate
from voice_worker.keeper import InboxCollector, Keeper
from voice_worker.metrics import WorkerCounters
from voice_worker.ownership import Ownership
from voice_worker.pacer import Pacer
from voice_worker.reporting import DiscordReporter
from voice_worker.routing import Router, Routing
from voice_worker.session import SessionConfig
from voice_worker.session_store import InMemorySessionStore, SessionStore
from voice_worker.sessions import SessionManager
from voice_worker.takeover import Resumer, Takeovers
from voice_worker.tracks import TrackSource

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 78  # sysexits EX_CONFIG: don't restart in a loop, fix the configuration

InteractionsFactory = Callable[[discord.Client], RawInteractionSink]


@dataclass
class PlaybackStats:
    """Playback figures for /health: time from a play job's receipt to its first packet."""

    timed_plays: int = 0
    last_ttfa_ms: float | None = None
    ttfa_ms: list[float] = field(default_factory=list)

    def record_ttfa(self, ttfa_ms: float) -> None:
        """Remember one job's time from receipt to first audio packet."""
        self.timed_plays += 1
        self.last_ttfa_ms = round(ttfa_ms, 1)
        self.ttfa_ms = [*self.ttfa_ms[-49:], self.last_ttfa_ms]


def session_config(settings: Settings, pacer: Pacer) -> SessionConfig:
    """Session knobs from settings; ``pacer`` sends for every guild of the worker."""
    return SessionConfig(
        idle_disconnect_s=settings.worker_idle_disconnect_s,
        voice_connect_timeout_s=settings.worker_voice_connect_timeout_s,
        bitrate_kbps=settings.worker_voice_bitrate_kbps,
        audio_in_process=settings.worker_audio_in_process,
        max_queue_tracks=settings.max_queue_length,
        pacer=pacer,
    )


def _log_warm_up_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # Not fatal: the first lookup pays for what the warm-up would have loaded.
        log.warning("worker.warm_up_failed", error=type(task.exception()).__name__)


class Worker:
    """One voice worker: everything is injected or built from settings, nothing global."""

    def __init__(
        self,
        settings: Settings,
        *,
        queue: JobQueue,
        sources: TrackSource,
        store: SessionStore | None = None,
        handled: HandledJobs | None = None,
        state: StateStore | None = None,
        inboxes: Inboxes | None = None,
        identify_gate: IdentifyGate | None = None,
        interactions: InteractionsFactory | None = None,
        health_port: int | None = None,
        freeze_heap: bool = False,
    ) -> None:
        """``freeze_heap``: this worker is its process's reason to exist (the CLI), so the
        start-up heap is frozen out of the garbage collector's sight once warm
        (voice_worker/gc_policy.py). Off where the process holds other things (tests)."""
        self.settings = settings
        self.queue = queue
        self.sources = sources
        # With a durable state store the worker owns guilds through leases, persists their
        # state there and remembers jobs in its ledger; without one it runs alone, in memory.
        self.state = state
        self.inboxes = inboxes
        self.worker_id = settings.worker_id or uuid.uuid4().hex[:12]
        self.ownership: Ownership | None = None
        if state is not None:
            self.ownership = Ownership(
                state,
                worker_id=self.worker_id,
                ttl_s=settings.lease_ttl_s,
                capacity=settings.worker_max_guilds,
                inbox_url=inboxes.inbox_url(self.worker_id) if inboxes is not None else "",
            )
            store = store or DurableSessionStore(state, self.ownership.lease_of)
            handled = handled or LedgerJobs(state, owner=self.worker_id, states=state)
        self.store = store or InMemorySessionStore()
        self.handled = handled or RecentJobs()
        self.counters = WorkerCounters()
        self.playback = PlaybackStats()
        self.gc_pauses = GcPauses()
        self.pacer = Pacer()
        self._freeze_heap = freeze_heap
        self._identify_gate = identify_gate or BackoffIdentifyGate()
        self._interactions = interactions
        self._health_port = settings.worker_health_port if health_port is None else health_port
        self._stop = asyncio.Event()
        self._status = "starting"
        self._started = time.monotonic()
        self.fatal: FatalConfigError | None = None
        self.client: GatewayClient | None = None
        self.sessions: SessionManager | None = None
        self.consumer: Consumer | None = None
        self.router: Router | None = None
        self.keeper: Keeper | None = None
        self.takeovers: Takeovers | None = None
        self.health: HealthServer | None = None
        self.ready = asyncio.Event()
        self._helpers: list[asyncio.Task[None]] = []

    def request_stop(self) -> None:
        """Begin a graceful shutdown (idempotent; safe from a signal handler)."""
        if not self._stop.is_set():
            log.info("worker.stop_requested")
            self._stop.set()

    def _on_fatal(self, error: FatalConfigError) -> None:
        if self.fatal is None:
            self.fatal = error
            log.error("worker.fatal", reason=error.reason, hint=error.hint)
        self.request_stop()

    def health_report(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, body) for /health."""
        client = self.client
        body: dict[str, Any] = {
            "status": self._status,
            "gateway_ready": bool(client and client.is_ready() and not client.is_closed()),
            "active_sessions": self.sessions.active if self.sessions else 0,
            "in_flight": self.consumer.in_flight if self.consumer else 0,
            "counters": self.counters.as_dict(),
            "playback": {
                "timed_plays": self.playback.timed_plays,
                "last_ttfa_ms": self.playback.last_ttfa_ms,
            },
            "pacer": self.pacer.report(),
            "gc": self.gc_pauses.as_dict(),
            "uptime_s": round(time.monotonic() - self._started, 1),
            "worker_id": self.worker_id,
            "owned_guilds": len(self.ownership.owned) if self.ownership else 0,
        }
        if self.fatal is not None:
            body["fatal"] = {"reason": self.fatal.reason, "hint": self.fatal.hint}
        # Waiting for the gateway (identify backoff included) is alive, not sick: a restart
        # would only spend another identify.
        return self._status in ("starting", "ready"), body

    def _on_sessions_changed(self, active: int) -> None:
        """The number of active guild sessions changed (publish it from here)."""
        log.debug("sessions.count", active=active)

    def _on_voice_change(self, guild_id: int, member_id: int, channel_id: int | None) -> None:
        if self.sessions is not None:
            self.sessions.on_voice_change(guild_id, member_id, channel_id)

    def _build(self) -> GatewayClient:
        client = GatewayClient(
            self.settings,
            identify_gate=self._identify_gate,
            on_voice_change=self._on_voice_change,
            gateway_interactions=self._interactions is not None,
        )
        if self._interactions is not None:
            client.attach_interactions(self._interactions(client))
        reporter = DiscordReporter(client)
        self.sessions = SessionManager(
            sources=self.sources,
            reporter=reporter,
            store=self.store,
            config=session_config(self.settings, self.pacer),
            on_fatal=self._on_fatal,
            on_first_audio=self.playback.record_ttfa,
            on_count_changed=self._on_sessions_changed,
            may_rejoin=self.ownership.holds if self.ownership is not None else None,
        )
        handlers = CommandHandlers(client, self.sessions, self.sources, playlists=self.state)
        jobs, routing, hold_s = self.queue, None, None
        if self.ownership is not None:
            self.takeovers = Takeovers(Resumer(client, self.sessions, self.store))
            routing = Routing(
                self.ownership,
                inboxes=self.inboxes,
                claimed=self.takeovers.start,
                ready=self.takeovers.wait,
            )
            collector = None
            if self.inboxes is not None and self.state is not None:
                # Cloud: the shared queue is routed; this worker handles its own inbox.
                wait_s = self.settings.worker_receive_wait_s
                self.router = Router(self.queue, routing, receive_wait_s=wait_s)
                jobs = self.inboxes.at(self.ownership.inbox_url)
                hold_s = HOLD_S  # what this worker received shows again soon if it dies
                collector = InboxCollector(
                    self.inboxes, self.state, routing, self.ownership.inbox_url
                )
            self.keeper = Keeper(
                self.ownership,
                self.sessions,
                self.store,
                self.takeovers,
                heartbeat_interval_s=self.settings.heartbeat_interval_s,
                position_interval_s=self.settings.position_save_interval_s,
                collector=collector,
            )
        self.consumer = Consumer(
            jobs,
            handlers,
            reporter,
            self.handled,
            self.counters,
            max_attempts=self.settings.worker_max_attempts,
            receive_wait_s=self.settings.worker_receive_wait_s,
            admit=routing.admit if routing is not None else None,
            hold_s=hold_s,
        )
        return client

    def _preflight(self) -> str:
        token = self.settings.bot_token
        if not token:
            raise FatalConfigError("no_token", "set DISCORD_BOT_TOKEN to the bot's token")
        if not has_dave:
            raise FatalConfigError(
                "dave_missing",
                "install discord.py[voice] (davey): Discord refuses voice without DAVE (4017)",
            )
        return token

    async def run(self) -> int:
        """Serve until stopped; return the process exit code."""
        try:
            token = self._preflight()
        except FatalConfigError as exc:
            self._on_fatal(exc)
            return EXIT_CONFIG
        point_discord_py(self.settings)
        self.gc_pauses.install()
        try:
            return await self._run(token)
        finally:
            self.gc_pauses.uninstall()

    async def _run(self, token: str) -> int:
        self.client = client = self._build()
        if self._health_port:
            self.health = HealthServer(
                self.health_report, host=self.settings.worker_health_host, port=self._health_port
            )
            await self.health.start()
        gateway = asyncio.create_task(client.run_session(token), name="gateway")
        # Overlaps the gateway login, so the first /play doesn't pay for it.
        warm_up = asyncio.create_task(self.sources.warm_up(), name="warm-up")
        warm_up.add_done_callback(_log_warm_up_failure)
        # Scale-in protection and fleet metrics follow the session count (fleet_signals.py);
        # stopped after the hand-over, so a song is protected until it has moved.
        signals = FleetSignals.from_settings(
            self.settings,
            counters=self.counters.as_dict,
            sessions=lambda: self.sessions.active if self.sessions is not None else 0,
            worker_id=self.worker_id,
        )
        signals.start()
        exit_code = EXIT_OK
        try:
            exit_code = await self._serve(client, gateway, warm_up)
        finally:
            warm_up.cancel()
            try:
                await self._shutdown(client, gateway)
            finally:
                await signals.stop()
        if self.fatal is not None:
            return EXIT_CONFIG
        return exit_code

    async def _serve(
        self, client: GatewayClient, gateway: asyncio.Task[None], warm_up: asyncio.Task[None]
    ) -> int:
        assert self.consumer is not None
        stop = asyncio.create_task(self._stop.wait())
        ready = asyncio.create_task(self._ready(client, warm_up))
        try:
            await asyncio.wait({gateway, stop, ready}, return_when=asyncio.FIRST_COMPLETED)
            if ready.done() and not self._stop.is_set() and not gateway.done():
                await self._join_fleet()
                self._status = "ready"
                self.ready.set()
                log.info("worker.ready", worker_id=self.worker_id)
                consuming = asyncio.create_task(self.consumer.run(), name="consumer")
                self._start_helpers()
                await asyncio.wait({gateway, stop, consuming}, return_when=asyncio.FIRST_COMPLETED)
                self.consumer.stop()
                await asyncio.wait({consuming})
                if consuming.exception() is not None:
                    log.error("worker.consumer_failed", exc_info=consuming.exception())
                    return EXIT_FAILED
        finally:
            stop.cancel()
            ready.cancel()
        if gateway.done() and not self._stop.is_set():
            return self._gateway_outcome(gateway)
        return EXIT_OK

    async def _join_fleet(self) -> None:
        """Heartbeat first, then the inbox: a dead-inbox sweep never sees ours unvouched."""
        if self.ownership is None:
            return
        await self.ownership.heartbeat(active_sessions=0)
        if self.inboxes is not None:
            await self.inboxes.create_inbox(self.worker_id)

    def _start_helpers(self) -> None:
        for name, runner in (("router", self.router), ("keeper", self.keeper)):
            if runner is not None:
                task = asyncio.create_task(runner.run(), name=name)
                task.add_done_callback(self._helper_done)
                self._helpers.append(task)

    def _helper_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("worker.helper_failed", helper=task.get_name(), exc_info=task.exception())
            self.request_stop()  # a worker that can't route or renew must not keep playing

    async def _ready(self, client: GatewayClient, warm_up: asyncio.Task[None]) -> None:
        await client.ready_event.wait()
        # Jobs wait for the warm-up too: the first lookup would otherwise pay for it, and
        # may run into its resolve timeout.
        await asyncio.wait({warm_up}, timeout=30.0)
        if self._freeze_heap:
            freeze_start_up_heap()  # before any audio: its one full collection stalls nothing

    async def _leave_fleet(self) -> None:
        """Hand our guilds over now (their state is saved) and drop an empty inbox.

        An inbox with messages left stays: the next worker's sweep routes them on.
        """
        if self.ownership is None:
            return
        await self.ownership.stop(handover=True)
        if self.inboxes is not None and self.ownership.inbox_url:
            url = self.ownership.inbox_url
            with contextlib.suppress(QueueUnavailable, StoreUnavailable):
                if await self.inboxes.inbox_empty(url):
                    await self.inboxes.delete_inbox(url)
                    log.info("inbox.deleted", inbox=url.rsplit("/", 1)[-1])

    def _gateway_outcome(self, gateway: asyncio.Task[None]) -> int:
        error = gateway.exception() if not gateway.cancelled() else None
        if isinstance(error, FatalConfigError):
            self._on_fatal(error)
            return EXIT_CONFIG
        if error is not None:
            log.error("worker.gateway_failed", error=type(error).__name__, exc_info=error)
            return EXIT_FAILED
        return EXIT_OK

    async def _shutdown(self, client: GatewayClient, gateway: asyncio.Task[None]) -> None:
        self._status = "stopping" if self.fatal is None else "fatal"
        grace = self.settings.worker_shutdown_grace_s
        if self.router is not None:
            self.router.stop()
        if self.keeper is not None:
            self.keeper.stop_taking()  # leases are still renewed while sessions wind down
        if self.consumer is not None:
            self.consumer.stop()
            await self.consumer.drain(grace)
        if self.takeovers is not None:
            await self.takeovers.aclose()
        if self.sessions is not None:
            await self.sessions.shutdown(timeout_s=10.0)
        if self.keeper is not None:
            self.keeper.stop()
        await asyncio.gather(*self._helpers, return_exceptions=True)
        await self._leave_fleet()
        await client.close()
        if not gateway.done():
            gateway.cancel()
        await asyncio.gather(gateway, return_exceptions=True)
        if self.health is not None:
            await self.health.stop()
        self._status = "stopped" if self.fatal is None else "fatal"
        log.info("worker.stopped", counters=self.counters.as_dict())
